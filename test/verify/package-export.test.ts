import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TokenVerifier } from '@tessera-sts/tessera/verify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildVerify, ROOT, VERIFY_DIST } from '../../scripts/build-verify.js'
import { API, type FakeIssuer, issuerKey, signAccessToken, startFakeIssuer } from './issuer-fixture.js'

const run = promisify(execFile)

describe('the ./verify package export', () => {
  let issuer: FakeIssuer
  const key = issuerKey('k1')
  beforeAll(async () => {
    issuer = await startFakeIssuer([key])
  })
  afterAll(() => issuer.close())

  it('resolves through the package self-reference to the committed JavaScript', async () => {
    const mod = await import('@tessera-sts/tessera/verify')
    const verifier: TokenVerifier = mod.createTokenVerifier({ issuer: issuer.url, audience: API })
    const claims = await verifier.verify({
      authorization: `Bearer ${await signAccessToken(issuer.url, key)}`,
      method: 'GET',
      url: `${API}/x`,
    })
    expect(claims.client_id).toBe('deploy-app')
    const middy = await import('@tessera-sts/tessera/verify/middy')
    expect(typeof middy.tokenVerifierMiddleware).toBe('function')
  })

  it('runs on plain Node (no TypeScript loader): verifies a token and refuses a bad one', async () => {
    const script = `
      import { createTokenVerifier, TokenVerificationError } from '@tessera-sts/tessera/verify'
      const v = createTokenVerifier({ issuer: process.env.ISSUER, audience: '${API}' })
      const claims = await v.verify({ authorization: 'Bearer ' + process.env.TOKEN, method: 'GET', url: '${API}/' })
      const bad = await v.verify({ authorization: 'Bearer x.y.z', method: 'GET', url: '${API}/' }).catch((e) => e)
      console.log(JSON.stringify({ sub: claims.sub, refused: bad instanceof TokenVerificationError && bad.code }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, ISSUER: issuer.url, TOKEN: await signAccessToken(issuer.url, key) },
    })
    expect(JSON.parse(stdout)).toEqual({ sub: 'repo:acme/app:ref:refs/heads/main', refused: 'invalid_token' })
  })

  it('has a fresh verify/dist: rebuilding the sources gives the committed files (tsx scripts/build-verify.ts)', async () => {
    const { files } = await buildVerify()
    const committed = readdirSync(VERIFY_DIST).sort()
    expect(committed).toEqual(files.map((f) => f.path))
    for (const f of files) expect(readFileSync(join(VERIFY_DIST, f.path), 'utf8'), f.path).toBe(f.text)
  })

  it('depends on no broker internals: only verify/, the DPoP proof check, errors, strict JSON and UTF-8, bounded fetch and reads', async () => {
    const { metafile } = await buildVerify()
    const allowed = new Set([
      'lib/dpop/proof.ts',
      'lib/errors.ts',
      'lib/json/strict-json.ts',
      'lib/http/bounded-fetch.ts',
      'lib/http/read-capped.ts',
      'lib/text/decode-utf8.ts',
    ])
    const inputs = Object.keys(metafile.inputs)
    expect(inputs.filter((p) => !p.startsWith('verify/') && !allowed.has(p))).toEqual([])
    const external = new Set(
      Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)),
    )
    expect([...external].filter((p) => !p.startsWith('node:')).sort()).toEqual(['jose'])
  })
})

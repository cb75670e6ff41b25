import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDpopProof } from '../../lib/cli/dpop-proof.js'
import { exchangeCommand } from '../../lib/cli/exchange.js'
import { verifyDpopProof } from '../../lib/dpop/proof.js'
import { createTokenVerifier } from '../../verify/index.js'
import { goodClaims, type Harness, startHarness } from '../e2e/harness.js'
import { runSpec } from './run-command.js'

const dir = mkdtempSync(join(tmpdir(), 'tessera-dpop-cli-'))
const API = 'https://api.example.com'
let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('tessera exchange --dpop-key and tessera dpop-proof', () => {
  it('gets a DPoP-bound token, then makes the proofs the API verifier accepts', async () => {
    const key = join(dir, 'client', 'dpop.json')
    const subject = await h.issuer.sign(goodClaims(h))
    const r = await runSpec(
      exchangeCommand,
      ['--url', h.url, '--token', subject, '--audience', API, '--dpop-key', key],
      { fetch: globalThis.fetch },
    )
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { access_token: string; token_type: string }
    expect(out.token_type).toBe('DPoP')

    const tokenFile = join(dir, 'token')
    writeFileSync(tokenFile, `${out.access_token}\n`)
    const url = `${API}/deploy`
    const proof = await runDpopProof([
      '--key',
      key,
      '--method',
      'PUT',
      '--url',
      url,
      '--token',
      `@${tokenFile}`,
    ])
    const claims = await createTokenVerifier({ issuer: h.url, audience: API, dpop: 'required' }).verify({
      authorization: `DPoP ${out.access_token}`,
      method: 'PUT',
      url,
      dpop: proof,
    })
    expect(claims.client_id).toBe('deploy-app')
  })

  it('prints a proof without ath when no token is given', async () => {
    const proof = await runDpopProof(['--key', join(dir, 'k2.json'), '--method', 'GET', '--url', `${API}/x`])
    const verified = await verifyDpopProof(proof, { method: 'GET', url: `${API}/x`, now: Date.now() })
    expect(verified.jti).toBeTruthy()
    await expect(
      verifyDpopProof(proof, { method: 'GET', url: `${API}/x`, now: Date.now(), accessToken: 'a.b.c' }),
    ).rejects.toThrow(/ath/)
  })

  it.each([
    [['--method', 'GET', '--url', API], /--key, --method and --url are required/],
    [['--key', 'k', '--url', API], /required/],
    [['--key', 'k', '--method', 'GET'], /required/],
    [['--key', join(dir, 'k3.json'), '--method', 'GET /x', '--url', API], /HTTP method/],
    [['--key', join(dir, 'k4.json'), '--method', 'GET', '--url', 'file:///etc/passwd'], /http/],
    [['--key', 'k', '--method', 'GET', '--url', API, '--bogus'], /Unknown option/],
  ])('refuses %o', async (argv, message) => {
    await expect(runDpopProof(argv)).rejects.toThrow(message)
  })
})

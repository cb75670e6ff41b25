import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleFunction } from '../../scripts/bundle.js'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'

// The artifact Lambda runs: the esbuild bundle, its bundled config, the KMS fake over the wire,
// invoked in a fresh node process with a Lambda-like environment.
const run = promisify(execFile)
let fake: KmsFake
let root: string

const config = (keyRef: string) => `issuer: https://sts.example.com
signing:
  algorithm: ES256
  keys:
    - { kms: ${keyRef}, active: true }
    - { kms: alias/standby }
providers:
  - { name: gh, kind: oidc, issuer: https://token.actions.githubusercontent.com, audiences: [https://sts.example.com] }
`

/** Invokes dist/jwks/index.mjs's handler like the Lambda runtime would; returns its result. */
async function invokeJwks(configFile: string | undefined) {
  const dir = join(root, 'jwks')
  rmSync(join(dir, 'tessera.yaml'), { force: true })
  if (configFile) copyFileSync(configFile, join(dir, 'tessera.yaml'))
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});
const event = { rawPath: '/.well-known/jwks.json', headers: {}, requestContext: { requestId: 'req1', http: { method: 'GET', path: '/.well-known/jwks.json' } } };
process.stdout.write(JSON.stringify(await handler(event, { awsRequestId: 'req1' })))`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH,
      LAMBDA_TASK_ROOT: root,
      _HANDLER: 'jwks/index.handler',
      TESSERA_CONFIG: 'tessera.yaml',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTESTTESSERA',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
      AWS_ENDPOINT_URL_KMS: fake.endpoint,
    },
    timeout: 20_000,
  })
  return JSON.parse(stdout.slice(stdout.lastIndexOf('{"statusCode"'))) as { statusCode: number; body: string }
}

beforeAll(async () => {
  fake = await startKmsFake()
  fake.alias('alias/active', fake.createKey('ECC_NIST_P256'))
  fake.alias('alias/standby', fake.createKey('ECC_NIST_P256'))
  fake.alias('alias/rsa', fake.createKey('RSA_2048'))
  root = mkdtempSync(join(tmpdir(), 'tessera-bundle-'))
  await bundleFunction('jwks', root)
  writeFileSync(join(root, 'good.yaml'), config('alias/active'))
  writeFileSync(join(root, 'rsa.yaml'), config('alias/rsa'))
}, 60_000)
afterAll(async () => {
  await fake.close()
  rmSync(root, { recursive: true, force: true })
})

describe('Lambda bundle (jwks) against the KMS fake', () => {
  it('loads the bundled config, reads both KMS public keys once and publishes them', async () => {
    fake.reset()
    const res = await invokeJwks(join(root, 'good.yaml'))
    expect(res.statusCode).toBe(200)
    const jwks = JSON.parse(res.body) as { keys: { kid: string; kty: string; d?: string }[] }
    expect(jwks.keys.map((k) => k.kty)).toEqual(['EC', 'EC'])
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true)
    expect(fake.calls('GetPublicKey')).toBe(2)
    expect(fake.calls('Sign')).toBe(0)
  })

  it('without a bundled config it fails closed (5xx), publishing nothing', async () => {
    const res = await invokeJwks(undefined)
    expect(res.statusCode).toBeGreaterThanOrEqual(500)
    expect(res.body).not.toContain('"keys"')
  })

  it('with a KMS key that cannot sign ES256 it fails closed (5xx), publishing nothing', async () => {
    const res = await invokeJwks(join(root, 'rsa.yaml'))
    expect(res.statusCode).toBeGreaterThanOrEqual(500)
    expect(res.body).not.toContain('"keys"')
  })
})

describe('the token function bundle', () => {
  it('loads at most 500 KB at cold start, with zod tree-shaken (no locales, no JSON-schema code)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tessera-token-bundle-'))
    try {
      const token = await bundleFunction('token', out)
      expect(token.initBytes).toBeLessThanOrEqual(500_000)
      // What esbuild kept (bytes in some output), not merely what it read.
      const inputs = Object.values(token.metafile.outputs).flatMap((o) =>
        Object.entries(o.inputs)
          .filter(([, v]) => v.bytesInOutput > 0)
          .map(([k]) => k),
      )
      expect(inputs.filter((i) => i.includes('zod/v4/locales/') && !i.endsWith('/en.js'))).toEqual([])
      expect(inputs.filter((i) => i.includes('zod/v4/classic/from-json-schema'))).toEqual([])
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)
})

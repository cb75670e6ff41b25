import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'
import { postJwtExchange, runCli, serveConfig } from './cli-harness.js'

// Black box: `tessera serve` with signing.key.kms, AWS_ENDPOINT_URL_KMS at the loopback KMS fake.
const SUB = 'repo:acme/app:ref:refs/heads/main'
let fake: KmsFake
let cwd: string
let url: string
let child: ChildProcess
let env: NodeJS.ProcessEnv

function configText(base: string, keyRef: string): string {
  return `issuer: ${base}
signing:
  algorithm: ES256
  key: { kms: ${keyRef} }
providers:
  - name: dev
    kind: oidc
    issuer: ${base}/dev
    audiences: [${base}]
    algorithms: [ES256]
policies:
  - name: deploy-app
    provider: dev
    match: { sub: ${SUB} }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
`
}

const exchange = (subjectToken: string) => postJwtExchange(url, subjectToken)

async function devToken(sub = SUB): Promise<string> {
  const r = await runCli(['dev-token', '--sub', sub, '--url', url], { cwd })
  if (r.code !== 0) throw new Error(r.stderr)
  return r.stdout.trim()
}

beforeAll(async () => {
  fake = await startKmsFake()
  fake.alias('alias/tessera-e2e', fake.createKey('ECC_NIST_P256'))
  cwd = mkdtempSync(join(tmpdir(), 'tessera-kms-e2e-'))
  env = { AWS_ENDPOINT_URL_KMS: fake.endpoint, AWS_REGION: 'us-east-1' }
  ;({ url, child } = await serveConfig(cwd, (base) => configText(base, 'alias/tessera-e2e'), {
    env,
    args: ['--dev-issuer'],
  }))
}, 60_000)
afterEach(() => fake.reset())
afterAll(async () => {
  child?.kill()
  await fake?.close()
  rmSync(cwd, { recursive: true, force: true })
})

describe('tessera serve with a KMS signing key', () => {
  it('exchanges a token signed by KMS that verifies against the published JWKS', async () => {
    const { status, body } = await exchange(await devToken())
    expect(status).toBe(200)
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JSONWebKeySet
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    expect(jwks.keys[0]).not.toHaveProperty('d')
    const token = body.access_token!
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: 'ES256',
      kid: jwks.keys[0]!.kid,
      typ: 'at+jwt',
    })
    await expect(compactVerify(token, createLocalJWKSet(jwks))).resolves.toBeTruthy()
  })

  it('costs exactly one Sign and no GetPublicKey per exchange after start-up', async () => {
    const tokens = await Promise.all([devToken(), devToken(), devToken()])
    for (const t of tokens) expect((await exchange(t)).status).toBe(200)
    expect(fake.calls('Sign')).toBe(3)
    expect(fake.calls('GetPublicKey')).toBe(0)
    expect(fake.calls('DescribeKey')).toBe(0)
  })

  it('a failing KMS yields 503 temporarily_unavailable with Retry-After, and no token', async () => {
    const t = await devToken()
    fake.inject('internal', { op: 'Sign', count: Number.POSITIVE_INFINITY })
    const { status, headers, body } = await exchange(t)
    expect(status).toBe(503)
    expect(body.error).toBe('temporarily_unavailable')
    expect(body.access_token).toBeUndefined()
    expect(headers.get('retry-after')).toMatch(/^\d+$/)
  })

  it('a malformed KMS signature yields 503, not 500, and no token', async () => {
    const t = await devToken()
    fake.inject('bad-der', { op: 'Sign' })
    const { status, body } = await exchange(t)
    expect(status).toBe(503)
    expect(body.access_token).toBeUndefined()
  })

  it('a request that fails verification is refused before any KMS call', async () => {
    const { status, body } = await exchange(`${await devToken()}x`)
    expect(status).toBe(400)
    expect(body.error).toBe('invalid_request')
    expect(fake.calls('Sign')).toBe(0)
  })

  it('a subject no policy grants gets invalid_target and nothing is signed', async () => {
    const { status, body } = await exchange(await devToken('repo:evil/app:ref:refs/heads/main'))
    expect(status).toBe(400)
    expect(body.error).toBe('invalid_target')
    expect(fake.calls('Sign')).toBe(0)
  })

  it('refuses to start with a KMS key that is not SIGN_VERIFY', async () => {
    fake.alias('alias/tessera-enc', fake.createKey('ECC_NIST_P256', { usage: 'ENCRYPT_DECRYPT' }))
    const err = await serveConfig(cwd, (base) => configText(base, 'alias/tessera-enc'), {
      env,
      file: 'bad.yaml',
    }).then(
      ({ child: c }) => {
        c.kill()
        return undefined
      },
      (e: unknown) => e as Error,
    )
    expect(err?.message).toMatch(/SIGN_VERIFY/)
  })
})

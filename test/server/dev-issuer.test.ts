import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { devIssuerRoutes, publicJwkOf } from '../../lib/server/dev-issuer.js'

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

const rsaPrivate = (): JWK =>
  ({
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: 'r1',
    alg: 'RS256',
  }) as JWK
const ecPrivate = (): JWK =>
  ({
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'e1',
    alg: 'ES256',
  }) as JWK

describe('publicJwkOf', () => {
  it('an RSA private key publishes n and e only, never p, q, dp, dq or qi', () => {
    const jwk = rsaPrivate()
    expect(jwk.p).toBeDefined()
    const pub = publicJwkOf(jwk)
    for (const m of PRIVATE_MEMBERS) expect(pub).not.toHaveProperty(m)
    expect(pub).toEqual({ kty: 'RSA', n: jwk.n, e: jwk.e, kid: 'r1', alg: 'RS256', use: 'sig' })
  })

  it('an EC private key publishes x and y only', () => {
    const jwk = ecPrivate()
    const pub = publicJwkOf(jwk)
    expect(pub).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'e1', alg: 'ES256', use: 'sig' })
  })

  it('an unknown extra member in the key file is never published', () => {
    const pub = publicJwkOf({ ...ecPrivate(), secret_note: 'x' } as JWK)
    expect(pub).not.toHaveProperty('secret_note')
    expect(pub).not.toHaveProperty('d')
  })

  it('a key file that is not a key is refused, not published', () => {
    expect(() => publicJwkOf({ kty: 'RSA', d: 'x' } as JWK)).toThrow()
  })
})

describe('dev issuer JWKS', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('serves the public half of an RSA key file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-dev-issuer-'))
    const file = join(dir, 'key.json')
    const jwk = rsaPrivate()
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600 })
    const routes = await devIssuerRoutes('http://127.0.0.1:1', file)
    const res = await routes({
      method: 'GET',
      path: '/dev/jwks.json',
      headers: {},
      body: '',
      query: '',
      sourceIp: '127.0.0.1',
      requestId: 'r',
    })
    const body = JSON.parse(res?.body ?? '{}') as { keys: Record<string, unknown>[] }
    expect(body.keys).toHaveLength(1)
    for (const m of PRIVATE_MEMBERS) expect(body.keys[0]).not.toHaveProperty(m)
    expect(body.keys[0]?.n).toBe(jwk.n)
  })
})

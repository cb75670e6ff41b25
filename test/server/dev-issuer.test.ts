import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfigText } from '../../lib/config/load.js'
import {
  devIssuerKeyFile,
  devIssuerRoutes,
  devIssuerWarning,
  publicJwkOf,
  trustDevIssuer,
} from '../../lib/server/dev-issuer.js'

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

const BROKER = 'http://127.0.0.1:8787'
const { config } = loadConfigText(
  `issuer: ${BROKER}
providers:
  - { name: gha, kind: oidc, preset: github-actions, audiences: ["${BROKER}"] }
  - { name: gl, kind: oidc, preset: gitlab, issuer: https://gitlab.example.com, audiences: ["${BROKER}"] }
  - { name: corp, kind: oidc, issuer: https://idp.example.com, audiences: ["${BROKER}"] }
  - { name: fleet, kind: aws-iam, accounts: ["111122223333"] }
`,
  't.yaml',
)

describe('trustDevIssuer (serve --dev-issuer)', () => {
  const { config: dev, standIns } = trustDevIssuer(config, BROKER)

  it('points every preset provider at its stand-in issuer, ES256, the dev JWKS', () => {
    expect(dev.providers[0]).toMatchObject({
      name: 'gha',
      issuer: `${BROKER}/dev/github-actions`,
      issuerAliases: [],
      jwksUri: `${BROKER}/dev/jwks.json`,
      algorithms: ['ES256'],
    })
    // An explicit issuer (GitLab self-managed) is replaced too, and reported.
    expect(dev.providers[1]).toMatchObject({ issuer: `${BROKER}/dev/gitlab` })
    expect(standIns).toEqual([
      {
        provider: 'gha',
        preset: 'github-actions',
        replaced: 'https://token.actions.githubusercontent.com',
        issuer: `${BROKER}/dev/github-actions`,
      },
      {
        provider: 'gl',
        preset: 'gitlab',
        replaced: 'https://gitlab.example.com',
        issuer: `${BROKER}/dev/gitlab`,
      },
    ])
  })

  it('leaves a preset provider already pointed at the dev issuer alone', () => {
    const own = loadConfigText(
      `issuer: ${BROKER}\nproviders:\n  - { name: gl, kind: oidc, preset: gitlab, issuer: ${BROKER}/dev, algorithms: [ES256] }\n`,
      'own.yaml',
    ).config
    const result = trustDevIssuer(own, BROKER)
    expect(result.config.providers[0]).toBe(own.providers[0])
    expect(result.standIns).toEqual([])
  })

  it('leaves providers without a preset, and the original config, alone', () => {
    expect(dev.providers[2]).toBe(config.providers[2])
    expect(dev.providers[3]).toBe(config.providers[3])
    expect(config.providers[0]).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com' })
  })

  it('the warning names the dev issuer, its key file and every replaced issuer', () => {
    const text = devIssuerWarning(BROKER, standIns, '/k.json')
    expect(text).toContain(`WARNING: this broker trusts a DEVELOPMENT issuer at ${BROKER}/dev\n`)
    expect(text).toContain('its private key is /k.json')
    expect(text).toContain(
      `provider gl (preset gitlab) trusts ${BROKER}/dev/gitlab instead of https://gitlab.example.com`,
    )
  })
})

describe('devIssuerKeyFile', () => {
  it('is one per user, whatever the current folder; TESSERA_HOME moves it', () => {
    expect(devIssuerKeyFile({})).toBe(join(homedir(), '.tessera', 'dev-issuer-key.json'))
    expect(devIssuerKeyFile({ TESSERA_HOME: '/srv/t' })).toBe('/srv/t/dev-issuer-key.json')
    expect(devIssuerKeyFile({ TESSERA_HOME: '  ' })).toBe(join(homedir(), '.tessera', 'dev-issuer-key.json'))
  })
})

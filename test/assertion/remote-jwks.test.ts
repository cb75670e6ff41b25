import { afterEach, describe, expect, it } from 'vitest'
import { RemoteJwksCache } from '../../lib/assertion/remote-jwks.js'
import { InvalidRequest, TemporarilyUnavailable } from '../../lib/errors.js'
import { generateTestKey, startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import { BROKER, type OidcFixture, setupOidc } from './oidc-fixture.js'

const CLAIMS = { sub: 'workload', aud: BROKER }
const DISCOVERY = '/.well-known/openid-configuration'
const MIN = 60_000
// Cache behaviour does not depend on the key type; P-256 keys are cheap to generate.
const ES = { alg: 'ES256' } as const

let fx: OidcFixture | undefined
let issuer: TestIssuer | undefined
afterEach(async () => {
  await fx?.close()
  await issuer?.close()
  fx = undefined
  issuer = undefined
})

/** A long-lived token, so the fake clock can move by hours without expiring it. */
const longToken = (f: OidcFixture, header?: Record<string, unknown>) =>
  f.issuer.sign({ ...CLAIMS, exp: Math.floor(f.clock.now / 1000) + 3 * 86_400 }, header)

describe('JWKS cache: single flight and TTL', () => {
  it('serves 100 concurrent cold requests with one discovery and one JWKS fetch', async () => {
    fx = await setupOidc({}, ES)
    const tokens = await Promise.all(
      Array.from({ length: 100 }, (_, i) => fx!.issuer.sign({ ...CLAIMS, n: i })),
    )
    const subjects = await Promise.all(tokens.map((t) => fx!.verify(t)))
    expect(subjects).toHaveLength(100)
    expect(fx.issuer.hits(DISCOVERY)).toBe(1)
    expect(fx.issuer.hits('/jwks')).toBe(1)
    expect(fx.hookCalls).toHaveLength(2)
  })

  it('shares one failing fetch among concurrent cold requests (all 503)', async () => {
    fx = await setupOidc({}, ES)
    fx.issuer.setFault('error')
    const token = await fx.issuer.sign(CLAIMS)
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => fx!.verify(token)))
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TemporarilyUnavailable)
    }
    expect(fx.issuer.hits()).toBe(1)
  })

  it('keeps the set for jwksCacheTtl, then refreshes it once', async () => {
    fx = await setupOidc({}, ES)
    const token = await longToken(fx)
    await fx.verify(token)
    fx.clock.now += 10 * MIN - 1
    await fx.verify(token)
    expect(fx.issuer.hits('/jwks')).toBe(1)
    fx.clock.now += 1
    await Promise.all([fx.verify(token), fx.verify(token), fx.verify(token)])
    expect(fx.issuer.hits('/jwks')).toBe(2)
    expect(fx.issuer.hits(DISCOVERY)).toBe(2)
  })

  it('honours a configured jwksCacheTtl', async () => {
    fx = await setupOidc({ jwksCacheTtl: '1m' }, ES)
    const token = await longToken(fx)
    await fx.verify(token)
    fx.clock.now += MIN
    await fx.verify(token)
    expect(fx.issuer.hits('/jwks')).toBe(2)
  })

  it('picks up a rotated key after the TTL even within the unknown-kid cooldown', async () => {
    fx = await setupOidc({}, ES)
    await fx.verify(await longToken(fx))
    await fx.issuer.rotate()
    fx.clock.now += 10 * MIN
    expect((await fx.verify(await longToken(fx))).sub).toBe('workload')
  })
})

describe('JWKS cache: unknown kid', () => {
  it('refetches on an unknown kid at most once per 30 s', async () => {
    fx = await setupOidc({}, ES)
    await fx.verify(await longToken(fx))
    await fx.issuer.rotate({ keepOld: true })
    const rotated = await longToken(fx)
    // Within the cooldown after the first fetch: no refetch, the new kid is unknown.
    await expect(fx.verify(rotated)).rejects.toThrow(/unknown kid/)
    expect(fx.issuer.hits('/jwks')).toBe(1)
    fx.clock.now += 30_000
    expect((await fx.verify(rotated)).sub).toBe('workload')
    expect(fx.issuer.hits('/jwks')).toBe(2)
    // A flood of random kids right after: no further fetch.
    const random = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => longToken(fx!, { kid: `junk-${i}` }).then((t) => fx!.verify(t))),
    )
    expect(random.every((r) => r.status === 'rejected' && r.reason instanceof InvalidRequest)).toBe(true)
    expect(fx.issuer.hits('/jwks')).toBe(2)
    fx.clock.now += 30_000
    await expect(fx.verify(await longToken(fx, { kid: 'junk-again' }))).rejects.toThrow(/unknown kid/)
    expect(fx.issuer.hits('/jwks')).toBe(3)
  })

  it('lets concurrent requests for a new kid share the refetch', async () => {
    fx = await setupOidc({}, ES)
    await fx.verify(await longToken(fx))
    await fx.issuer.rotate()
    fx.clock.now += 30_000
    const token = await longToken(fx)
    const subjects = await Promise.all(Array.from({ length: 20 }, () => fx!.verify(token)))
    expect(subjects).toHaveLength(20)
    expect(fx.issuer.hits('/jwks')).toBe(2)
  })

  it('answers 503 when the unknown-kid refetch fails', async () => {
    fx = await setupOidc({}, ES)
    await fx.verify(await longToken(fx))
    fx.clock.now += 30_000
    fx.issuer.setFault('error')
    await expect(fx.verify(await longToken(fx, { kid: 'new' }))).rejects.toBeInstanceOf(
      TemporarilyUnavailable,
    )
  })
})

describe('JWKS cache: outages', () => {
  it('serves the stale set for up to 24 h while the issuer fails, then answers 503', async () => {
    fx = await setupOidc({}, ES)
    const token = await longToken(fx)
    await fx.verify(token)
    fx.issuer.setFault('error')
    fx.clock.now += 11 * MIN
    await fx.verify(token)
    const attempts = fx.issuer.hits()
    // discovery + jwks, then a failed discovery refresh (its stale copy is used) and a failed jwks fetch
    expect(attempts).toBe(4)
    fx.clock.now += 10_000
    await fx.verify(token) // within the failure backoff: no new attempt
    expect(fx.issuer.hits()).toBe(attempts)
    fx.clock.now = fx.clock.now - 11 * MIN - 10_000 + 24 * 60 * MIN - 1
    await fx.verify(token)
    fx.clock.now += 1
    const err = await fx.refuse(token)
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(err.status).toBe(503)
    expect(err.headers['Retry-After']).toBeDefined()
  })

  it('recovers once the issuer answers again', async () => {
    fx = await setupOidc({}, ES)
    const token = await longToken(fx)
    fx.issuer.setFault('error')
    await expect(fx.verify(token)).rejects.toBeInstanceOf(TemporarilyUnavailable)
    fx.clock.now += 10_000
    fx.issuer.setFault('none')
    await expect(fx.verify(token)).rejects.toBeInstanceOf(TemporarilyUnavailable) // backoff, no fetch
    expect(fx.issuer.hits()).toBe(1)
    fx.clock.now += 30_000
    expect((await fx.verify(token)).sub).toBe('workload')
  })

  for (const fault of ['error', 'garbage', 'huge', 'hang'] as const) {
    it(`answers 503 on a cold cache when the issuer is ${fault}`, async () => {
      fx = await setupOidc({}, { ...ES, jwks: { timeoutMs: 150 } })
      fx.issuer.setFault(fault)
      const err = await fx.refuse(await fx.issuer.sign(CLAIMS))
      expect(err).toBeInstanceOf(TemporarilyUnavailable)
      expect(err.message).not.toMatch(/xxxx|boom/)
    })
  }

  it('refuses a JWKS document of the wrong shape', async () => {
    fx = await setupOidc({}, ES)
    for (const doc of [{ keys: 'nope' }, [], { key: [] }, 'keys']) {
      fx.issuer.setJwks(doc)
      fx.clock.now += 31_000
      expect(await fx.refuse(await fx.issuer.sign(CLAIMS))).toBeInstanceOf(TemporarilyUnavailable)
    }
  })

  it('refuses a JWKS document with duplicate members', async () => {
    issuer = await startTestIssuer(ES)
    const cache = new RemoteJwksCache({
      fetch: async () =>
        new Response(`{"keys":[],"keys":[${JSON.stringify(issuer!.publicJwk)}]}`, {
          headers: { 'content-type': 'application/json' },
        }),
      now: () => 0,
    })
    await expect(
      cache.resolveKey(
        { issuer: issuer.issuer, jwksUri: issuer.jwksUri, ttlSeconds: 600 },
        'ES256',
        issuer.kid,
      ),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })
})

describe('JWKS cache: discovery', () => {
  it('refuses a discovery document naming another issuer', async () => {
    fx = await setupOidc({}, ES)
    fx.issuer.setDiscovery({ issuer: 'https://evil.example', jwks_uri: fx.issuer.jwksUri })
    expect(await fx.refuse(await fx.issuer.sign(CLAIMS))).toBeInstanceOf(TemporarilyUnavailable)
    expect(fx.issuer.hits('/jwks')).toBe(0)
  })

  it('refuses a plain-http jwks_uri on a non-loopback host without fetching it', async () => {
    fx = await setupOidc({}, ES)
    for (const uri of [
      'http://example.com/jwks',
      'ftp://127.0.0.1/jwks',
      'https://user:pw@example.com/jwks',
      'jwks',
    ]) {
      fx.issuer.setDiscovery({ issuer: fx.issuer.issuer, jwks_uri: uri })
      fx.clock.now += 31_000
      expect(await fx.refuse(await fx.issuer.sign(CLAIMS))).toBeInstanceOf(TemporarilyUnavailable)
    }
    expect(fx.fetched.every((u) => u.endsWith(DISCOVERY))).toBe(true)
  })

  it('refuses a discovery document without jwks_uri', async () => {
    fx = await setupOidc({}, ES)
    fx.issuer.setDiscovery({ issuer: fx.issuer.issuer })
    expect(await fx.refuse(await fx.issuer.sign(CLAIMS))).toBeInstanceOf(TemporarilyUnavailable)
  })

  it('keeps the discovery document cached like the key set', async () => {
    fx = await setupOidc({}, ES)
    const token = await longToken(fx)
    await fx.verify(token)
    fx.clock.now += 31_000
    await expect(fx.verify(await longToken(fx, { kid: 'unknown' }))).rejects.toThrow(/unknown kid/)
    expect(fx.issuer.hits('/jwks')).toBe(2)
    expect(fx.issuer.hits(DISCOVERY)).toBe(1)
  })
})

describe('JWKS cache: bounds', () => {
  it('keeps at most maxKeys usable keys per set', async () => {
    issuer = await startTestIssuer({ alg: 'ES256' })
    const others = Array.from({ length: 3 }, () => generateTestKey('ES256').publicJwk)
    issuer.setJwks({ keys: [...others, issuer.publicJwk] })
    const source = { issuer: issuer.issuer, jwksUri: issuer.jwksUri, ttlSeconds: 600 }
    const small = new RemoteJwksCache({ fetch: globalThis.fetch, now: () => 0 }, { maxKeys: 3 })
    await expect(small.resolveKey(source, 'ES256', issuer.kid)).rejects.toThrow(/unknown kid/)
    const large = new RemoteJwksCache({ fetch: globalThis.fetch, now: () => 0 }, { maxKeys: 4 })
    expect((await large.resolveKey(source, 'ES256', issuer.kid)).kid).toBe(issuer.kid)
  })

  it('refuses a JWKS response over the size cap', async () => {
    issuer = await startTestIssuer(ES)
    issuer.setJwks({ keys: [issuer.publicJwk], pad: 'x'.repeat(600 * 1024) })
    const cache = new RemoteJwksCache({ fetch: globalThis.fetch, now: () => 0 })
    await expect(
      cache.resolveKey(
        { issuer: issuer.issuer, jwksUri: issuer.jwksUri, ttlSeconds: 600 },
        'ES256',
        issuer.kid,
      ),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })
})

describe('JWKS cache: a remote issuer never points Tessera at a local service', () => {
  it.each(['http://127.0.0.1:9001/2018-06-01/runtime/invocation/next', 'http://localhost/jwks'])(
    'refuses a plain-http loopback jwks_uri (%s) from an https issuer, without fetching it',
    async (uri) => {
      const fetched: string[] = []
      const cache = new RemoteJwksCache({
        fetch: async (input) => {
          fetched.push(String(input))
          return new Response(JSON.stringify({ issuer: 'https://idp.example.com', jwks_uri: uri }), {
            headers: { 'content-type': 'application/json' },
          })
        },
        now: () => 0,
      })
      await expect(
        cache.resolveKey({ issuer: 'https://idp.example.com', ttlSeconds: 600 }, 'RS256', 'k1'),
      ).rejects.toBeInstanceOf(TemporarilyUnavailable)
      expect(fetched).toEqual(['https://idp.example.com/.well-known/openid-configuration'])
    },
  )
})

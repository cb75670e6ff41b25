import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { TemporarilyUnavailable, TokenVerificationError } from '../../lib/errors.js'
import { createTokenVerifier, type TokenVerifierOptions } from '../../verify/index.js'
import { API, type FakeIssuer, issuerKey, signAccessToken, startFakeIssuer } from './issuer-fixture.js'

const keyA = issuerKey('key-a')
const keyB = issuerKey('key-b', 'RS256')
let issuer: FakeIssuer

beforeAll(async () => {
  issuer = await startFakeIssuer([keyA])
})
afterAll(() => issuer.close())
afterEach(() => {
  issuer.keys = [keyA]
  issuer.metadata = undefined
  issuer.status = 200
  vi.useRealTimers()
})

const URL_ = 'https://api.example.com/deploy'
const verifierFor = (o: Partial<TokenVerifierOptions> = {}) =>
  createTokenVerifier({ issuer: issuer.url, audience: API, ...o })
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, method: 'GET', url: URL_ })

async function refused(
  p: Promise<unknown>,
  code: string,
  status = code === 'insufficient_scope' ? 403 : 401,
) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(TokenVerificationError)
  const e = err as TokenVerificationError
  expect({ code: e.code, status: e.status }).toEqual({ code, status })
  expect(e.headers['WWW-Authenticate']).toBe(e.wwwAuthenticate)
  expect(e.message).not.toMatch(/["\\]/)
  return e
}

describe('createTokenVerifier: accepted tokens', () => {
  it('returns the claims of a valid Bearer token', async () => {
    const token = await signAccessToken(issuer.url, keyA)
    const claims = await verifierFor({ scopes: ['deploy:write'] }).verify(bearer(token))
    expect(claims).toMatchObject({
      iss: issuer.url,
      aud: API,
      client_id: 'deploy-app',
      scope: 'deploy:read deploy:write',
    })
  })

  it('accepts one of several configured audiences, and a token with several audiences', async () => {
    const token = await signAccessToken(issuer.url, keyA, {
      claims: { aud: ['https://other.example.com', API] },
    })
    await expect(
      verifierFor({ audience: ['https://x.example.com', API] }).verify(bearer(token)),
    ).resolves.toBeDefined()
  })

  it('allows an expiry within the clock tolerance, and a scheme in any letter case', async () => {
    const token = await signAccessToken(issuer.url, keyA, {
      claims: { exp: Math.floor(Date.now() / 1000) - 10 },
    })
    await expect(
      verifierFor().verify({ ...bearer(token), authorization: `bEaReR ${token}` }),
    ).resolves.toBeDefined()
  })

  it('fetches the metadata and the JWKS once for many concurrent requests', async () => {
    const before = { ...issuer.hits }
    const verifier = verifierFor()
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signAccessToken(issuer.url, keyA)))
    await Promise.all(tokens.map((t) => verifier.verify(bearer(t))))
    await verifier.verify(bearer(tokens[0] as string))
    expect(issuer.hits.metadata - before.metadata).toBe(1)
    expect(issuer.hits.jwks - before.jwks).toBe(1)
  })

  it('follows a key rotation through the JWKS cache: an unknown kid refetches once the cooldown passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const verifier = verifierFor()
    await verifier.verify(bearer(await signAccessToken(issuer.url, keyA)))
    issuer.keys = [keyA, keyB] // the broker publishes its new key next to the previous one
    const rotated = await signAccessToken(issuer.url, keyB)
    const jwksBefore = issuer.hits.jwks
    // Within jose's 30 s cooldown the cached set is trusted: the new kid is unknown for now.
    const e = await refused(verifier.verify(bearer(rotated)), 'invalid_token')
    expect(e.message).toMatch(/unknown key/)
    vi.setSystemTime(Date.now() + 31_000)
    await expect(verifier.verify(bearer(rotated))).resolves.toMatchObject({ client_id: 'deploy-app' })
    expect(issuer.hits.jwks - jwksBefore).toBe(1)
    // The previous key still verifies while it is published.
    await expect(verifier.verify(bearer(await signAccessToken(issuer.url, keyA)))).resolves.toBeDefined()
  })
})

describe('createTokenVerifier: the Authorization header', () => {
  it('answers a request without credentials with a challenge per accepted scheme and no error', async () => {
    const e = await refused(verifierFor().verify({ method: 'GET', url: URL_ }), 'invalid_token')
    expect(e.wwwAuthenticate).toBe('Bearer, DPoP algs="ES256 RS256"')
    const r = await refused(
      verifierFor({ dpop: 'required' }).verify({ authorization: ' ', method: 'GET', url: URL_ }),
      'invalid_token',
    )
    expect(r.wwwAuthenticate).toBe('DPoP algs="ES256 RS256"')
  })

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a scheme without a token', 'Bearer'],
    ['two tokens', 'Bearer a.b.c d.e.f'],
    ['characters outside token68', 'Bearer a.b.c"'],
    ['an over-long header', `Bearer ${'a'.repeat(17_000)}`],
  ])('refuses %s', async (_, authorization) => {
    const e = await refused(
      verifierFor().verify({ authorization, method: 'GET', url: URL_ }),
      'invalid_token',
    )
    expect(e.wwwAuthenticate).toMatch(
      /^Bearer error="invalid_token", error_description="the Authorization header must be Bearer or DPoP/,
    )
  })

  it('answers any Authorization header with a TokenVerificationError, never another error', async () => {
    const verifier = verifierFor()
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ maxLength: 200 }).map((t) => `Bearer ${t}`),
        ),
        async (authorization) => {
          const err = await verifier
            .verify({ authorization, method: 'GET', url: URL_ })
            .catch((e: unknown) => e)
          expect(err).toBeInstanceOf(TokenVerificationError)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses a token that is not a JWS', async () => {
    const e = await refused(verifierFor().verify(bearer('not-a-jwt')), 'invalid_token')
    expect(e.message).toMatch(/malformed/)
  })
})

describe('createTokenVerifier: refused tokens', () => {
  const now = () => Math.floor(Date.now() / 1000)
  it.each([
    ['expired beyond the tolerance', { exp: now() - 31 }, /expired/],
    ['not valid yet', { nbf: now() + 120 }, /not valid yet/],
    ['from another issuer', { iss: 'https://evil.example.com' }, /expected issuer/],
    ['for another API', { aud: 'https://other.example.com' }, /not meant for this API/],
    ['without sub', { sub: undefined }, /sub/],
    ['without jti', { jti: undefined }, /jti/],
    ['without client_id', { client_id: undefined }, /client_id/],
    ['without iat', { iat: undefined }, /iat/],
    ['without exp', { exp: undefined }, /exp/],
    ['with an empty sub', { sub: '' }, /sub/],
    ['with a numeric client_id', { client_id: 7 }, /client_id/],
    ['with a fractional exp', { exp: now() + 60.5 }, /exp/],
    ['with an exp of 1e300', { exp: 1e300 }, /exp/],
    ['with a non-string scope', { scope: ['deploy:write'] }, /scope/],
    ['with a malformed cnf', { cnf: { jkt: 'short' } }, /cnf/],
    ['with cnf not an object', { cnf: 'x' }, /cnf/],
  ])('refuses a token %s', async (_, claims, message) => {
    const token = await signAccessToken(issuer.url, keyA, { claims })
    const e = await refused(verifierFor().verify(bearer(token)), 'invalid_token')
    expect(e.message).toMatch(message)
    expect(e.wwwAuthenticate).toMatch(/^Bearer error="invalid_token", error_description="/)
  })

  it.each([
    ['without typ', { typ: undefined }],
    ['with typ JWT', { typ: 'JWT' }],
    ['with typ dpop+jwt', { typ: 'dpop+jwt' }],
  ])('refuses a token %s (RFC 9068 needs at+jwt)', async (_, header) => {
    const token = await signAccessToken(issuer.url, keyA, { header })
    expect((await refused(verifierFor().verify(bearer(token)), 'invalid_token')).message).toMatch(/typ/)
  })

  it('refuses a token signed by a key the issuer does not publish', async () => {
    const token = await signAccessToken(issuer.url, issuerKey('rogue'))
    expect((await refused(verifierFor().verify(bearer(token)), 'invalid_token')).message).toMatch(
      /unknown key/,
    )
  })

  it('refuses a token whose signature is not by the published key of its kid', async () => {
    const forged = await signAccessToken(issuer.url, { ...issuerKey('x'), kid: 'key-a' })
    expect((await refused(verifierFor().verify(bearer(forged)), 'invalid_token')).message).toMatch(
      /signature/,
    )
  })

  it('refuses an unsigned token (alg none) and an HMAC token keyed with the public key', async () => {
    const claims = {
      iss: issuer.url,
      aud: API,
      sub: 's',
      exp: now() + 60,
      iat: now(),
      jti: 'j',
      client_id: 'c',
    }
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const none = `${part({ alg: 'none', typ: 'at+jwt' })}.${part(claims)}.`
    await refused(verifierFor().verify(bearer(none)), 'invalid_token')
    const input = `${part({ alg: 'HS256', typ: 'at+jwt', kid: 'key-a' })}.${part(claims)}`
    const mac = createHmac('sha256', JSON.stringify(keyA.publicJwk)).update(input).digest('base64url')
    expect((await refused(verifierFor().verify(bearer(`${input}.${mac}`)), 'invalid_token')).message).toMatch(
      /alg/,
    )
  })

  it('refuses a token repeating a claim name under one signature', async () => {
    const part = (s: string) => Buffer.from(s).toString('base64url')
    const body = `{"iss":"${issuer.url}","aud":"${API}","sub":"a","sub":"b","exp":${now() + 60},"iat":${now()},"jti":"j","client_id":"c"}`
    const header = part(JSON.stringify({ alg: 'ES256', kid: 'key-a', typ: 'at+jwt' }))
    const { sign } = await import('node:crypto')
    const sig = sign('sha256', Buffer.from(`${header}.${part(body)}`), {
      key: keyA.privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    const token = `${header}.${part(body)}.${sig.toString('base64url')}`
    expect((await refused(verifierFor().verify(bearer(token)), 'invalid_token')).message).toMatch(/repeats/)
  })

  it('answers a missing scope with 403 insufficient_scope naming the scopes required', async () => {
    const token = await signAccessToken(issuer.url, keyA, { claims: { scope: 'deploy:read' } })
    const e = await refused(
      verifierFor({ scopes: ['deploy:read', 'deploy:write'] }).verify(bearer(token)),
      'insufficient_scope',
    )
    expect(e.wwwAuthenticate).toBe(
      'Bearer error="insufficient_scope", error_description="the token lacks a scope this API requires", scope="deploy:read deploy:write"',
    )
    const noScope = await signAccessToken(issuer.url, keyA, { claims: { scope: undefined } })
    await refused(verifierFor({ scopes: ['deploy:read'] }).verify(bearer(noScope)), 'insufficient_scope')
  })

  it('does not take a scope prefix or substring for the scope', async () => {
    const token = await signAccessToken(issuer.url, keyA, {
      claims: { scope: 'deploy:writer xdeploy:write' },
    })
    await refused(verifierFor({ scopes: ['deploy:write'] }).verify(bearer(token)), 'insufficient_scope')
  })
})

describe('createTokenVerifier: the issuer metadata', () => {
  const unavailable = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect((err as TemporarilyUnavailable).status).toBe(503)
  }

  it('is a 503 while the issuer is down, and recovers on the next request', async () => {
    const verifier = verifierFor()
    const token = await signAccessToken(issuer.url, keyA)
    issuer.status = 500
    await unavailable(verifier.verify(bearer(token)))
    issuer.status = 200
    await expect(verifier.verify(bearer(token))).resolves.toBeDefined()
  })

  it.each([
    ['names another issuer', { issuer: 'https://evil.example.com' }],
    ['has no jwks_uri', { jwks_uri: undefined }],
    ['has a jwks_uri that is not a URL', { jwks_uri: 'keys' }],
    ['has a plain-http jwks_uri off loopback', { jwks_uri: 'http://keys.example.com/jwks' }],
    ['is not JSON', 'oops'],
    ['repeats a member name', '{"issuer":"x","issuer":"y"}'],
  ])('is a 503 when the metadata %s', async (_, metadata) => {
    issuer.metadata = metadata as FakeIssuer['metadata']
    await unavailable(verifierFor().verify(bearer(await signAccessToken(issuer.url, keyA))))
  })

  it('is a 503 when the JWKS cannot be fetched', async () => {
    issuer.metadata = { jwks_uri: `${issuer.url}/missing` }
    await unavailable(verifierFor().verify(bearer(await signAccessToken(issuer.url, keyA))))
  })
})

describe('createTokenVerifier: options', () => {
  it.each([
    [{ issuer: 'http://sts.example.com' }, /https/],
    [{ issuer: 'not a url' }, /URL/],
    [{ audience: [] }, /audience/],
    [{ audience: '' }, /audience/],
    [{ scopes: ['a b'] }, /scope/],
    [{ dpop: 'sometimes' }, /dpop/],
    [{ clockTolerance: -1 }, /clockTolerance/],
    [{ clockTolerance: 1.5 }, /clockTolerance/],
  ])('refuses %o', (o, message) => {
    expect(() =>
      createTokenVerifier({ issuer: 'https://sts.example.com', audience: API, ...(o as object) }),
    ).toThrow(message)
  })
})

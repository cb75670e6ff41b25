import { describe, expect, it } from 'vitest'
import { tokenHash } from '../../lib/assertion/token-hash.js'
import type { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { introspect } from '../../lib/endpoints/introspect.js'
import {
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  MethodNotAllowed,
  StoreUnavailable,
  TemporarilyUnavailable,
  UnsupportedMediaType,
} from '../../lib/errors.js'
import { adminFixture, ISSUER, T0 } from '../admin/admin-fixture.js'

type Fixture = Awaited<ReturnType<typeof adminFixture>>

async function ask(f: Fixture, token: string, scopes = ['tessera:introspect']) {
  const bearer = await f.adminToken(scopes)
  const res = await introspect(f.deps, f.request('/introspect', { token }, `Bearer ${bearer}`))
  expect(res.status).toBe(200)
  expect(res.headers['Cache-Control']).toBe('no-store')
  return JSON.parse(res.body) as Record<string, unknown>
}

const jtiOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string

describe('introspect: token states', () => {
  it('active token: every RFC 7662 member', async () => {
    const f = await adminFixture()
    const token = await f.mint()
    expect(await ask(f, token)).toEqual({
      active: true,
      scope: 'deploy:write',
      client_id: 'deploy',
      sub: 'repo:acme/app',
      aud: 'https://api.example.com',
      iss: ISSUER,
      exp: T0 / 1000 + 600,
      iat: T0 / 1000,
      nbf: T0 / 1000,
      jti: jtiOf(token),
      idp: 'gha',
      token_type: 'Bearer',
    })
  })

  it('active token with several audiences and no scope', async () => {
    const f = await adminFixture()
    const body = await ask(f, await f.mint({ aud: ['a', 'b'], scopes: [] }))
    expect(body).toMatchObject({ active: true, aud: ['a', 'b'] })
    expect(body).not.toHaveProperty('scope')
  })

  const inactive: [string, (f: Fixture) => Promise<string>][] = [
    ['expired', async (f) => f.mint({ at: T0 - 600_000 })],
    [
      'revoked by jti',
      async (f) => {
        const t = await f.mint()
        await f.revocations.revoke({ jti: jtiOf(t), exp: T0 / 1000 + 600 }, 'ops')
        return t
      },
    ],
    [
      'revoked by subject',
      async (f) => {
        const t = await f.mint()
        await f.revocations.revoke({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
        return t
      },
    ],
    [
      'revoked by policy',
      async (f) => {
        const t = await f.mint()
        await f.revocations.revoke({ policy: 'deploy' }, 'ops')
        return t
      },
    ],
    [
      'issued before a lifted subject revocation',
      async (f) => {
        const t = await f.mint()
        await f.revocations.revoke({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
        f.clock.ms += 30_000
        await f.revocations.lift({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
        return t
      },
    ],
    ['foreign-signed', async (f) => f.mint({ signer: f.foreign })],
    ['signed by our key for another issuer', async (f) => f.mint({ issuer: 'https://other.example' })],
    ['malformed', async () => 'not.a.jwt'],
    ['garbage', async () => '%%%'],
    [
      'a JWS with typ JWT',
      async (f) =>
        f.signRaw(
          {
            iss: ISSUER,
            sub: 's',
            aud: 'a',
            exp: T0 / 1000 + 60,
            iat: T0 / 1000,
            jti: 'j',
            client_id: 'p',
            idp: 'gha',
          },
          { typ: 'JWT' },
        ),
    ],
    [
      'a JWS with alg none',
      async () =>
        `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(`{"iss":"${ISSUER}","sub":"s"}`).toString('base64url')}.`,
    ],
    [
      'a token not yet valid (nbf)',
      async (f) =>
        f.signRaw({
          iss: ISSUER,
          sub: 's',
          aud: 'a',
          exp: T0 / 1000 + 600,
          nbf: T0 / 1000 + 300,
          iat: T0 / 1000,
          jti: 'j',
          client_id: 'p',
          idp: 'gha',
        }),
    ],
    [
      'a token with iat as a float',
      async (f) =>
        f.signRaw({
          iss: ISSUER,
          sub: 's',
          aud: 'a',
          exp: T0 / 1000 + 600,
          iat: T0 / 1000 + 0.5,
          jti: 'j',
          client_id: 'p',
          idp: 'gha',
        }),
    ],
  ]
  for (const [name, make] of inactive) {
    it(`${name} => {"active": false} and nothing else`, async () => {
      const f = await adminFixture()
      expect(await ask(f, await make(f))).toEqual({ active: false })
    })
  }

  it('a token minted after a subject revocation was lifted is active', async () => {
    const f = await adminFixture()
    await f.revocations.revoke({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
    f.clock.ms += 30_000
    await f.revocations.lift({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
    // Issued in the lift's second: could predate it, so it stays revoked; a second later it is active.
    expect(await ask(f, await f.mint())).toEqual({ active: false })
    f.clock.ms += 1_000
    expect(await ask(f, await f.mint())).toMatchObject({ active: true })
  })

  it('a token minted while the revocation stood (a stale instance) stays inactive after the lift', async () => {
    const f = await adminFixture()
    await f.revocations.revoke({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
    f.clock.ms += 6_000
    const stale = await f.mint()
    f.clock.ms += 3_600_000
    await f.revocations.lift({ provider: 'gha', sub: 'repo:acme/app' }, 'ops')
    expect(await ask(f, stale)).toEqual({ active: false })
  })
})

describe('introspect: request handling', () => {
  it('requires the token parameter', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:introspect'])
    await expect(introspect(f.deps, f.request('/introspect', {}, `Bearer ${bearer}`))).rejects.toBeInstanceOf(
      InvalidRequest,
    )
  })

  it('authenticates before reading the body', async () => {
    const f = await adminFixture()
    await expect(introspect(f.deps, f.request('/introspect', {}))).rejects.toBeInstanceOf(InvalidToken)
  })

  it('requires the tessera:introspect scope (tessera:revoke is not enough)', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:revoke'])
    await expect(
      introspect(f.deps, f.request('/introspect', { token: 'x' }, `Bearer ${bearer}`)),
    ).rejects.toBeInstanceOf(InsufficientScope)
  })

  it('refuses GET', async () => {
    const f = await adminFixture()
    await expect(
      introspect(f.deps, { ...f.request('/introspect', {}), method: 'GET' }),
    ).rejects.toBeInstanceOf(MethodNotAllowed)
  })

  it('refuses a JSON body', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:introspect'])
    const req = f.request('/introspect', {}, `Bearer ${bearer}`)
    await expect(
      introspect(f.deps, {
        ...req,
        headers: { ...req.headers, 'content-type': 'application/json' },
        body: '{}',
      }),
    ).rejects.toBeInstanceOf(UnsupportedMediaType)
  })

  it('503 (not active:false) when revocation state is unavailable for a valid token', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:introspect'])
    const token = await f.mint()
    let calls = 0
    const deps = {
      ...f.deps,
      revocations: {
        ...f.deps.revocations,
        // First call authenticates the admin; the second (the introspected token) fails.
        isTokenRevoked: async () => {
          if (++calls > 1) throw new StoreUnavailable('down')
          return false
        },
      },
    }
    await expect(
      introspect(deps, f.request('/introspect', { token }, `Bearer ${bearer}`)),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })
})

describe('introspect: audit', () => {
  const events = (f: Fixture) =>
    (f.deps.audit as MemoryAuditSink).events.filter((e) => e.event === 'token.introspected')

  it('records who introspected which token (its SHA-256, never the token) and the answer', async () => {
    const f = await adminFixture()
    const token = await f.mint()
    await ask(f, token)
    const [event, ...more] = events(f)
    expect(more).toEqual([])
    expect(event).toMatchObject({
      event: 'token.introspected',
      level: 'INFO',
      by: 'admin/ops',
      token_sha256: tokenHash(token),
      active: true,
      jti: jtiOf(token),
      policy: 'deploy',
    })
    expect(JSON.stringify(event)).not.toContain(token)
  })

  it('records an inactive answer too, without claims', async () => {
    const f = await adminFixture()
    await ask(f, 'not-a-token')
    expect(events(f)).toEqual([
      expect.objectContaining({ active: false, token_sha256: tokenHash('not-a-token') }),
    ])
    expect(events(f)[0]).not.toHaveProperty('jti')
  })

  it('records nothing for a caller that is refused or a request without a token', async () => {
    const f = await adminFixture()
    const token = await f.mint()
    const bearer = await f.adminToken(['tessera:revoke'])
    await expect(
      introspect(f.deps, f.request('/introspect', { token }, `Bearer ${bearer}`)),
    ).rejects.toBeInstanceOf(InsufficientScope)
    const ok = await f.adminToken(['tessera:introspect'])
    await expect(introspect(f.deps, f.request('/introspect', {}, `Bearer ${ok}`))).rejects.toBeInstanceOf(
      InvalidRequest,
    )
    expect(events(f)).toEqual([])
  })
})

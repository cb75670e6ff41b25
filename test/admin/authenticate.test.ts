import { describe, expect, it } from 'vitest'
import { authenticateAdmin } from '../../lib/admin/authenticate.js'
import {
  InsufficientScope,
  InvalidToken,
  StoreUnavailable,
  TemporarilyUnavailable,
} from '../../lib/errors.js'
import { adminFixture, T0 } from './admin-fixture.js'

const auth = (value: string | undefined) => (value === undefined ? {} : { authorization: value })

describe('authenticateAdmin', () => {
  it('accepts a broker-issued token with aud = issuer and the scope', async () => {
    const f = await adminFixture()
    const token = await f.adminToken(['tessera:introspect', 'tessera:revoke'])
    const claims = await authenticateAdmin(f.deps, auth(`Bearer ${token}`), 'tessera:revoke', 'r1')
    expect(claims).toMatchObject({ sub: 'ops', client_id: 'admin', aud: 'https://sts.example.com' })
  })

  it('accepts a lower-case scheme and an aud list containing the issuer', async () => {
    const f = await adminFixture()
    const token = await f.adminToken(['tessera:introspect'], {
      aud: ['https://other', 'https://sts.example.com'],
    })
    await expect(
      authenticateAdmin(f.deps, auth(`bearer ${token}`), 'tessera:introspect', 'r'),
    ).resolves.toBeDefined()
  })

  const cases: [
    string,
    (f: Awaited<ReturnType<typeof adminFixture>>) => Promise<string | undefined>,
    RegExp,
  ][] = [
    ['no Authorization header', async () => undefined, /required/],
    ['an empty Authorization header', async () => '', /required/],
    ['the Basic scheme', async () => 'Basic b3BzOnNlY3JldA==', /Bearer scheme/],
    ['Bearer without a token', async () => 'Bearer ', /Bearer scheme/],
    ['two tokens', async (f) => `Bearer ${await f.adminToken(['tessera:revoke'])} extra`, /Bearer scheme/],
    ['a malformed token', async () => 'Bearer not-a-jwt', /not valid/],
    [
      'another broker’s token (other key, other issuer)',
      async (f) =>
        `Bearer ${await f.adminToken(['tessera:revoke'], { signer: f.foreign, issuer: 'https://evil.example' })}`,
      /not valid/,
    ],
    [
      'a token signed by another key with our issuer',
      async (f) => `Bearer ${await f.adminToken(['tessera:revoke'], { signer: f.foreign })}`,
      /not valid/,
    ],
    [
      'our key but another iss',
      async (f) => `Bearer ${await f.adminToken(['tessera:revoke'], { issuer: 'https://evil.example' })}`,
      /not valid/,
    ],
    ['aud not the broker', async (f) => `Bearer ${await f.mint({ scopes: ['tessera:revoke'] })}`, /aud/],
    [
      'an expired token',
      async (f) => `Bearer ${await f.adminToken(['tessera:revoke'], { at: T0 - 601_000 })}`,
      /expired/,
    ],
    [
      'a token with typ JWT',
      async (f) =>
        `Bearer ${await f.signRaw({ iss: 'https://sts.example.com', sub: 'ops', aud: 'https://sts.example.com', exp: T0 / 1000 + 60, iat: T0 / 1000, jti: 'x', client_id: 'admin', idp: 'gha', scope: 'tessera:revoke' }, { typ: 'JWT' })}`,
      /not valid/,
    ],
    [
      'a token with a string exp',
      async (f) =>
        `Bearer ${await f.signRaw({ iss: 'https://sts.example.com', sub: 'ops', aud: 'https://sts.example.com', exp: String(T0 / 1000 + 60), iat: T0 / 1000, jti: 'x', client_id: 'admin', idp: 'gha', scope: 'tessera:revoke' })}`,
      /not valid/,
    ],
    [
      'a token without client_id',
      async (f) =>
        `Bearer ${await f.signRaw({ iss: 'https://sts.example.com', sub: 'ops', aud: 'https://sts.example.com', exp: T0 / 1000 + 60, iat: T0 / 1000, jti: 'x', idp: 'gha', scope: 'tessera:revoke' })}`,
      /not valid/,
    ],
  ]
  for (const [name, header, message] of cases) {
    it(`401 for ${name}`, async () => {
      const f = await adminFixture()
      const err = await authenticateAdmin(f.deps, auth(await header(f)), 'tessera:revoke', 'r').catch(
        (e) => e,
      )
      expect(err).toBeInstanceOf(InvalidToken)
      expect(err.status).toBe(401)
      expect(err.message).toMatch(message)
      expect(f.audit.events).toEqual([
        expect.objectContaining({ event: 'admin.denied', level: 'WARN', error: 'invalid_token' }),
      ])
    })
  }

  it('an expired, a revoked and a forged token get one and the same message; the audit log tells them apart', async () => {
    const f = await adminFixture()
    const revoked = await f.adminToken(['tessera:revoke'])
    await f.revocations.revoke(
      {
        jti: JSON.parse(Buffer.from(revoked.split('.')[1]!, 'base64url').toString()).jti,
        exp: T0 / 1000 + 600,
      },
      't',
    )
    const tokens = [
      await f.adminToken(['tessera:revoke'], { at: T0 - 601_000 }),
      revoked,
      await f.adminToken(['tessera:revoke'], { signer: f.foreign }),
    ]
    const errors = await Promise.all(
      tokens.map((t) =>
        authenticateAdmin(f.deps, auth(`Bearer ${t}`), 'tessera:revoke', 'r').catch((e) => e),
      ),
    )
    expect(new Set(errors.map((e) => e.message)).size).toBe(1)
    expect(errors.map((e) => e.detail)).toEqual(['expired', 'revoked', 'signature'])
  })

  it('401 for a revoked admin token (by jti, and by its subject)', async () => {
    const f = await adminFixture()
    const one = await f.adminToken(['tessera:revoke'])
    await f.revocations.revoke(
      { jti: JSON.parse(Buffer.from(one.split('.')[1]!, 'base64url').toString()).jti, exp: T0 / 1000 + 600 },
      't',
    )
    await expect(authenticateAdmin(f.deps, auth(`Bearer ${one}`), 'tessera:revoke', 'r')).rejects.toThrow(
      /revoked/,
    )
    const two = await f.adminToken(['tessera:revoke'])
    await f.revocations.revoke({ provider: 'gha', sub: 'ops' }, 't')
    await expect(
      authenticateAdmin(f.deps, auth(`Bearer ${two}`), 'tessera:revoke', 'r'),
    ).rejects.toBeInstanceOf(InvalidToken)
  })

  it('403 insufficient_scope for a valid token without the scope', async () => {
    const f = await adminFixture()
    const token = await f.adminToken(['tessera:introspect', 'tessera:revoker'])
    const err = await authenticateAdmin(f.deps, auth(`Bearer ${token}`), 'tessera:revoke', 'r').catch(
      (e) => e,
    )
    expect(err).toBeInstanceOf(InsufficientScope)
    expect(err.status).toBe(403)
    expect(err.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope", scope="tessera:revoke"')
  })

  it('403 for a token without any scope', async () => {
    const f = await adminFixture()
    const token = await f.adminToken([])
    await expect(
      authenticateAdmin(f.deps, auth(`Bearer ${token}`), 'tessera:introspect', 'r'),
    ).rejects.toBeInstanceOf(InsufficientScope)
  })

  it('503 when the revocation state cannot be read', async () => {
    const f = await adminFixture()
    const token = await f.adminToken(['tessera:revoke'])
    const deps = {
      ...f.deps,
      revocations: {
        ...f.deps.revocations,
        isTokenRevoked: async () => {
          throw new StoreUnavailable('down')
        },
      },
    }
    await expect(
      authenticateAdmin(deps, auth(`Bearer ${token}`), 'tessera:revoke', 'r'),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })

  it('never records the bearer token in the audit event', async () => {
    const f = await adminFixture()
    const token = await f.adminToken(['nothing'])
    await authenticateAdmin(f.deps, auth(`Bearer ${token}`), 'tessera:revoke', 'r').catch(() => undefined)
    expect(JSON.stringify(f.audit.events)).not.toContain(token)
    expect(JSON.stringify(f.audit.events)).not.toContain(token.split('.')[2])
  })
})

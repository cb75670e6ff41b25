import { describe, expect, it } from 'vitest'
import { authenticateAdmin } from '../../lib/admin/authenticate.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { introspect } from '../../lib/endpoints/introspect.js'
import { InvalidToken } from '../../lib/errors.js'
import { adminFixture, ISSUER } from './admin-fixture.js'

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

async function boundToken(f: Awaited<ReturnType<typeof adminFixture>>, aud: string, scopes: string[]) {
  const minted = await mintAccessToken(f.signer, {
    issuer: ISSUER,
    sub: 'ops',
    audience: [aud],
    scopes,
    ttl: 600,
    clientId: 'admin',
    idp: 'gha',
    now: f.clock.ms,
    extra: { cnf: { jkt: JKT } },
  })
  return minted.token
}

describe('DPoP-bound tokens at the admin endpoints', () => {
  it('refuses a bound admin token presented as a bearer token (401, audited)', async () => {
    const f = await adminFixture()
    const token = await boundToken(f, ISSUER, ['tessera:introspect'])
    const err = await authenticateAdmin(
      f.deps,
      { authorization: `Bearer ${token}` },
      'tessera:introspect',
      'r1',
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidToken)
    expect((err as InvalidToken).detail).toBe('dpop-bound')
    expect(f.audit.events.at(-1)).toMatchObject({ event: 'admin.denied', error: 'invalid_token' })
  })

  it('introspects a bound token with token_type DPoP and its cnf (RFC 9449 §6.2)', async () => {
    const f = await adminFixture()
    const bound = await boundToken(f, 'https://api.example.com', ['deploy:write'])
    const bearer = await f.adminToken(['tessera:introspect'])
    const res = await introspect(f.deps, f.request('/introspect', { token: bound }, `Bearer ${bearer}`))
    expect(JSON.parse(res.body)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: JKT } })
  })

  it('introspects an unbound token as Bearer without cnf', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:introspect'])
    const res = await introspect(
      f.deps,
      f.request('/introspect', { token: await f.mint() }, `Bearer ${bearer}`),
    )
    const body = JSON.parse(res.body) as Record<string, unknown>
    expect(body.token_type).toBe('Bearer')
    expect(body).not.toHaveProperty('cnf')
  })
})

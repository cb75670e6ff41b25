import { describe, expect, it } from 'vitest'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { introspect } from '../../lib/endpoints/introspect.js'
import { revoke } from '../../lib/endpoints/revoke.js'
import { InsufficientScope, InvalidRequest, InvalidToken, MethodNotAllowed } from '../../lib/errors.js'
import { adminFixture } from '../admin/admin-fixture.js'

type Fixture = Awaited<ReturnType<typeof adminFixture>>

async function call(f: Fixture, form: Record<string, string>) {
  const bearer = await f.adminToken(['tessera:revoke'])
  const res = await revoke(f.deps, f.request('/revoke', form, `Bearer ${bearer}`))
  expect(res.status).toBe(200)
  return JSON.parse(res.body) as Record<string, unknown>
}

async function active(f: Fixture, token: string) {
  const bearer = await f.adminToken(['tessera:introspect'])
  const res = await introspect(f.deps, f.request('/introspect', { token }, `Bearer ${bearer}`))
  return (JSON.parse(res.body) as { active: boolean }).active
}

const issuance = { provider: 'gha', sub: 'repo:acme/app', policy: 'deploy' }

describe('revoke', () => {
  it('token=: revokes that token only; lift=true restores it', async () => {
    const f = await adminFixture()
    const [t1, t2] = [await f.mint(), await f.mint()]
    expect(await call(f, { token: t1 })).toMatchObject({ status: 'revoked', target: 'token' })
    expect(await active(f, t1)).toBe(false)
    expect(await active(f, t2)).toBe(true)
    expect(await f.revocations.blocksIssuance(issuance)).toBe(false)
    expect(await call(f, { token: t1, lift: 'true' })).toMatchObject({ status: 'lifted' })
    expect(await active(f, t1)).toBe(true)
  })

  it('sub+provider: revokes earlier tokens and blocks issuance until lifted', async () => {
    const f = await adminFixture()
    const before = await f.mint()
    expect(await call(f, { sub: 'repo:acme/app', provider: 'gha' })).toMatchObject({
      status: 'revoked',
      target: 'subject',
      provider: 'gha',
      sub: 'repo:acme/app',
    })
    expect(await active(f, before)).toBe(false)
    expect(await f.revocations.blocksIssuance(issuance)).toBe(true)
    f.clock.ms += 5_000
    await call(f, { sub: 'repo:acme/app', provider: 'gha', lift: 'true' })
    expect(await f.revocations.blocksIssuance(issuance)).toBe(false)
    expect(await active(f, before)).toBe(false)
    f.clock.ms += 1_000
    expect(await active(f, await f.mint())).toBe(true)
  })

  it('a long multibyte sub is refused by its UTF-8 size (DynamoDB keys count bytes), not a 503', async () => {
    const f = await adminFixture()
    await expect(call(f, { sub: '漢'.repeat(171), provider: 'gha' })).rejects.toThrow(/longer than 512 bytes/)
    expect(await call(f, { sub: '漢'.repeat(170), provider: 'gha' })).toMatchObject({ status: 'revoked' })
  })

  it('policy: revokes and blocks; lift restores issuance', async () => {
    const f = await adminFixture()
    const before = await f.mint()
    await call(f, { policy: 'deploy' })
    expect(await active(f, before)).toBe(false)
    expect(await f.revocations.blocksIssuance({ ...issuance, sub: 'someone-else' })).toBe(true)
    await call(f, { policy: 'deploy', lift: 'false' })
    f.clock.ms += 1_000
    await call(f, { policy: 'deploy', lift: 'true' })
    expect(await f.revocations.blocksIssuance(issuance)).toBe(false)
  })

  it('audits revocations without any token text', async () => {
    const f = await adminFixture()
    const t = await f.mint()
    await call(f, { token: t })
    await call(f, { policy: 'deploy' })
    const events = f.audit.events.filter((e) => e.event.startsWith('revocation.'))
    expect(events).toEqual([
      expect.objectContaining({ event: 'revocation.added', level: 'WARN', target: 'token', by: 'admin/ops' }),
      expect.objectContaining({ event: 'revocation.added', target: 'policy', policy: 'deploy' }),
    ])
    expect(JSON.stringify(f.audit.events)).not.toContain(t)
  })

  it('a foreign, malformed or expired token is answered 200 "ignored" (RFC 7009 §2.2), nothing stored', async () => {
    const f = await adminFixture()
    for (const token of [
      await f.mint({ signer: f.foreign }),
      'garbage',
      await f.mint({ at: f.clock.ms - 3_600_000 }),
    ]) {
      expect(await call(f, { token })).toEqual({ status: 'ignored', target: 'token' })
    }
    expect(await f.revocations.list()).toEqual([])
  })

  const bad: [string, Record<string, string>, RegExp][] = [
    ['nothing to revoke', {}, /exactly one/],
    ['token and policy', { token: 'x', policy: 'deploy' }, /exactly one/],
    ['sub and policy', { sub: 's', provider: 'gha', policy: 'deploy' }, /exactly one/],
    ['sub without provider', { sub: 's' }, /together/],
    ['provider without sub', { provider: 'gha' }, /together/],
    ['an unknown policy', { policy: 'nope' }, /no policy named/],
    ['an unknown provider', { sub: 's', provider: 'nope' }, /no provider named/],
    ['an invalid policy name', { policy: 'a#b' }, /not a valid name/],
    ['an over-long sub', { sub: 'x'.repeat(513), provider: 'gha' }, /longer/],
    ['lift=yes', { policy: 'deploy', lift: 'yes' }, /lift must/],
  ]
  for (const [name, form, message] of bad) {
    it(`400 for ${name}`, async () => {
      const f = await adminFixture()
      const bearer = await f.adminToken(['tessera:revoke'])
      const err = await revoke(f.deps, f.request('/revoke', form, `Bearer ${bearer}`)).catch((e) => e)
      expect(err).toBeInstanceOf(InvalidRequest)
      expect(err.message).toMatch(message)
      expect(await f.revocations.list()).toEqual([])
    })
  }

  it('counts revocations by action when given metrics', async () => {
    const f = await adminFixture()
    const metrics = new MemoryTelemetry()
    const bearer = await f.adminToken(['tessera:revoke'])
    await revoke({ ...f.deps, metrics }, f.request('/revoke', { policy: 'deploy' }, `Bearer ${bearer}`))
    await revoke(
      { ...f.deps, metrics },
      f.request('/revoke', { policy: 'deploy', lift: 'true' }, `Bearer ${bearer}`),
    )
    expect(metrics.total('revocations', { action: 'revoke' })).toBe(1)
    expect(metrics.total('revocations', { action: 'lift' })).toBe(1)
  })

  it('lifting an unknown policy is allowed (clean-up after a rename)', async () => {
    const f = await adminFixture()
    expect(await call(f, { policy: 'gone', lift: 'true' })).toMatchObject({ status: 'lifted' })
  })

  it('401 without a bearer token; 403 with only tessera:introspect; 405 for GET', async () => {
    const f = await adminFixture()
    await expect(revoke(f.deps, f.request('/revoke', { policy: 'deploy' }))).rejects.toBeInstanceOf(
      InvalidToken,
    )
    const bearer = await f.adminToken(['tessera:introspect'])
    await expect(
      revoke(f.deps, f.request('/revoke', { policy: 'deploy' }, `Bearer ${bearer}`)),
    ).rejects.toBeInstanceOf(InsufficientScope)
    await expect(revoke(f.deps, { ...f.request('/revoke', {}), method: 'GET' })).rejects.toBeInstanceOf(
      MethodNotAllowed,
    )
    expect(await f.revocations.list()).toEqual([])
  })

  it('an admin can revoke the admin policy, locking out its own token', async () => {
    const f = await adminFixture()
    const bearer = await f.adminToken(['tessera:revoke'])
    await revoke(f.deps, f.request('/revoke', { policy: 'admin' }, `Bearer ${bearer}`))
    await expect(
      revoke(f.deps, f.request('/revoke', { policy: 'admin', lift: 'true' }, `Bearer ${bearer}`)),
    ).rejects.toThrow(/revoked/)
  })
})

import { describe, expect, it } from 'vitest'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { AssertionVerifier } from '../../lib/assertion/types.js'
import { InvalidRequest } from '../../lib/errors.js'
import { listBindings, resetBinding } from '../../lib/instance/binding.js'
import { instanceId, storeKinds } from '../instance/stores.js'
import { ACCOUNT, document, ec2Token, harness, input, NOW, nonce } from './aws-ec2-fixture.js'

const MIN = 60_000
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

/** Stands in for the aws-iam verifier: maps a presented token to the ARN STS would return. */
function fakeAwsIam(arns: Record<string, string>, opts: { singleUse?: boolean } = {}): AssertionVerifier {
  return {
    tokenTypes: [TokenTypes.awsSigv4],
    async verify(i) {
      const arn = arns[i.subjectToken]
      if (!arn || i.subjectTokenType !== TokenTypes.awsSigv4) throw new InvalidRequest('bad sigv4')
      return {
        provider: 'iam',
        kind: 'aws-iam',
        issuer: 'sts.amazonaws.com',
        sub: arn,
        claims: { sub: arn },
        tokenHash: 'x',
        ...(opts.singleUse
          ? { replay: { key: `aws-iam:${i.subjectToken}`, expiresAt: NOW / 1000 + 330 } }
          : {}),
      }
    },
  }
}

describe.each(storeKinds())('aws-ec2 instance binding on $name', (store) => {
  function setup(extra: Record<string, unknown> = {}, awsIam?: AssertionVerifier) {
    let clock = NOW
    const table = store.open(() => clock)
    const h = harness(table, extra, awsIam)
    return {
      h,
      table,
      set clock(ms: number) {
        clock = ms
        h.clock = ms
      },
    }
  }

  it('registers on first use and accepts the same nonce later', async () => {
    const { h, table } = setup()
    const id = instanceId()
    const n = nonce()
    const token = ec2Token(document({ instanceId: id }))
    await h.verifier.verify(input(token, { token: n }))
    await h.verifier.verify(input(token, { token: n }))
    const binding = (await listBindings(table)).find((b) => b.instanceId === id)
    expect(binding).toMatchObject({ accountId: ACCOUNT, exchanges: 2, cloneAlerts: 0, provider: 'ec2-fleet' })
    expect(h.audit.events.some((e) => e.event === 'instance.registered')).toBe(true)
  })

  it('refuses a clone with another nonce and raises an alert without the raw nonce', async () => {
    const { h, table } = setup()
    const id = instanceId()
    const token = ec2Token(document({ instanceId: id }))
    await h.verifier.verify(input(token, { token: nonce() }))
    const other = nonce()
    await expect(h.verifier.verify(input(token, { token: other }))).rejects.toThrow(
      /different instance nonce/,
    )
    const alert = h.audit.events.find((e) => e.event === 'instance.clone_suspected')
    expect(alert).toMatchObject({
      level: 'WARN',
      instance_id: id,
      account_id: ACCOUNT,
      request_id: 'req-test',
    })
    expect(JSON.stringify(h.audit.events)).not.toContain(other)
    expect((await listBindings(table)).find((b) => b.instanceId === id)?.cloneAlerts).toBe(1)
  })

  it('lets exactly one of 20 concurrent first registrations win', async () => {
    const { h } = setup()
    const token = ec2Token(document({ instanceId: instanceId() }))
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => h.verifier.verify(input(token, { token: nonce() }))),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InvalidRequest)
  })

  it("a bound instance's 20 concurrent exchanges with its nonce all pass (bookkeeping races are not refusals)", async () => {
    const { h, table } = setup()
    const id = instanceId()
    const n = nonce()
    const token = ec2Token(document({ instanceId: id }))
    await h.verifier.verify(input(token, { token: n }))
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => h.verifier.verify(input(token, { token: n }))),
    )
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    const binding = (await listBindings(table)).find((b) => b.instanceId === id)
    expect(binding?.exchanges).toBeGreaterThanOrEqual(2)
  })

  it("concurrent exchanges with a clone's nonce are all refused even while the owner's race", async () => {
    const { h } = setup()
    const id = instanceId()
    const n = nonce()
    const token = ec2Token(document({ instanceId: id }))
    await h.verifier.verify(input(token, { token: n }))
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => h.verifier.verify(input(token, { token: n }))),
      ...Array.from({ length: 10 }, () => h.verifier.verify(input(token, { token: nonce() }))),
    ])
    expect(results.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true)
    for (const r of results.slice(10)) {
      expect(r.status).toBe('rejected')
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/different instance nonce/)
    }
  })

  it('refuses an older pending_time and accepts a newer one with the registered nonce', async () => {
    const s = setup()
    const id = instanceId()
    const n = nonce()
    await s.h.verifier.verify(input(ec2Token(document({ instanceId: id })), { token: n }))
    const older = ec2Token(document({ instanceId: id, pendingTime: iso(NOW - 10 * MIN) }))
    await expect(s.h.verifier.verify(input(older, { token: n }))).rejects.toThrow(
      /older than the one already registered/,
    )
    const newer = ec2Token(document({ instanceId: id, pendingTime: iso(NOW - MIN) }))
    await s.h.verifier.verify(input(newer, { token: n }))
    await expect(s.h.verifier.verify(input(newer, { token: nonce() }))).rejects.toThrow(
      /different instance nonce/,
    )
  })

  it('refuses a first registration outside the registration window', async () => {
    const { h } = setup()
    const stale = ec2Token(document({ instanceId: instanceId(), pendingTime: iso(NOW - 16 * MIN) }))
    await expect(h.verifier.verify(input(stale, { token: nonce() }))).rejects.toThrow(/registration window/)
  })

  it('allows a late first registration when the window is off (0s)', async () => {
    const { h } = setup({ binding: { registrationWindow: '0s' } })
    const stale = ec2Token(document({ instanceId: instanceId(), pendingTime: iso(NOW - 30 * 86_400_000) }))
    await expect(h.verifier.verify(input(stale, { token: nonce() }))).resolves.toBeDefined()
  })

  it('lets an operator reset allow a new registration, even outside the window', async () => {
    const s = setup()
    const id = instanceId()
    const token = ec2Token(document({ instanceId: id }))
    await s.h.verifier.verify(input(token, { token: nonce() }))
    s.clock = NOW + 60 * MIN
    const replacement = nonce()
    await expect(s.h.verifier.verify(input(token, { token: replacement }))).rejects.toThrow(/different/)
    expect(await resetBinding(s.table, id, Math.floor((NOW + 60 * MIN) / 1000))).toBe(true)
    await s.h.verifier.verify(input(token, { token: replacement }))
    await s.h.verifier.verify(input(token, { token: replacement }))
  })

  it('expires a binding after its lifetime since last use (then the window applies again)', async () => {
    const s = setup({ binding: { lifetime: '1h' } })
    const id = instanceId()
    const token = ec2Token(document({ instanceId: id }))
    await s.h.verifier.verify(input(token, { token: nonce() }))
    s.clock = NOW + 61 * MIN
    await expect(s.h.verifier.verify(input(token, { token: nonce() }))).rejects.toThrow(/registration window/)
  })

  it('refuses missing, padded, short or non-base64url nonces and a wrong actor token type', async () => {
    const { h } = setup()
    const token = ec2Token(document({ instanceId: instanceId() }))
    await expect(h.verifier.verify(input(token))).rejects.toThrow(/actor_token/)
    for (const bad of [`${nonce()}=`, nonce().slice(1), `${nonce().slice(0, 42)}+`, 'x'.repeat(43)]) {
      await expect(h.verifier.verify(input(token, { token: bad }))).rejects.toThrow(
        /32 random bytes|base64url/,
      )
    }
    await expect(h.verifier.verify(input(token, { token: nonce(), type: TokenTypes.jwt }))).rejects.toThrow(
      /actor_token_type/,
    )
  })

  describe('presence proof (requireCallerIdentity)', () => {
    const strict = { binding: { requireCallerIdentity: true } }

    it('accepts the instance profile session of this instance and exposes the role', async () => {
      const id = instanceId()
      const iam = fakeAwsIam({ good: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${id}` })
      const { h } = setup(strict, iam)
      const subject = await h.verifier.verify(
        input(
          ec2Token(document({ instanceId: id })),
          { token: 'good', type: TokenTypes.awsSigv4 },
          { nonce: nonce() },
        ),
      )
      expect(subject.claims.role).toBe('web-role')
    })

    it('a used proof is refused before the binding is touched: no clone alert, no bookkeeping', async () => {
      const id = instanceId()
      const iam = fakeAwsIam(
        { good: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${id}` },
        { singleUse: true },
      )
      const { h, table } = setup(strict, iam)
      const token = ec2Token(document({ instanceId: id }))
      const proof = { token: 'good', type: TokenTypes.awsSigv4 }
      await h.verifier.verify(input(token, proof, { nonce: nonce() }))
      const before = (await listBindings(table)).find((b) => b.instanceId === id)
      // Replayed with another nonce: would be a clone alert if it reached the binding.
      await expect(h.verifier.verify(input(token, proof, { nonce: nonce() }))).rejects.toThrow(
        /already been used/,
      )
      expect(h.audit.events.some((e) => e.event === 'instance.clone_suspected')).toBe(false)
      expect((await listBindings(table)).find((b) => b.instanceId === id)).toEqual(before)
    })

    it('refuses the wrong session name', async () => {
      const id = instanceId()
      const iam = fakeAwsIam({ other: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${instanceId()}` })
      const { h } = setup(strict, iam)
      const call = h.verifier.verify(
        input(
          ec2Token(document({ instanceId: id })),
          { token: 'other', type: TokenTypes.awsSigv4 },
          { nonce: nonce() },
        ),
      )
      await expect(call).rejects.toThrow(/instance profile of this instance/)
    })

    it('refuses another account, an IAM user, and a missing proof or nonce', async () => {
      const id = instanceId()
      const iam = fakeAwsIam({
        acct: `arn:aws:sts::999988887777:assumed-role/web-role/${id}`,
        user: `arn:aws:iam::${ACCOUNT}:user/${id}`,
        good: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${id}`,
      })
      const { h } = setup(strict, iam)
      const token = ec2Token(document({ instanceId: id }))
      for (const proof of ['acct', 'user']) {
        await expect(
          h.verifier.verify(input(token, { token: proof, type: TokenTypes.awsSigv4 }, { nonce: nonce() })),
        ).rejects.toThrow(/instance profile/)
      }
      await expect(h.verifier.verify(input(token, { token: nonce() }))).rejects.toThrow(/presence proof/)
      await expect(
        h.verifier.verify(input(token, { token: 'good', type: TokenTypes.awsSigv4 })),
      ).rejects.toThrow(/32 random bytes/)
    })
  })
})

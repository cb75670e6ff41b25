import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { pollApproval, releaseRedemption } from '../../lib/approval/poll.js'
import {
  AccessDenied,
  ApprovalConflict,
  ApprovalNotFound,
  AuthorizationPending,
  type BrokerError,
  ExpiredToken,
  InvalidGrant,
  SlowDown,
} from '../../lib/errors.js'
import { storeKinds } from '../instance/stores.js'
import { approvalSetup } from './approval-fixture.js'

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => e as BrokerError,
  )

describe.each(storeKinds())('approval requests on $name', (store) => {
  describe('request and poll', () => {
    it('answers slow_down, pending, then the approved request exactly once, then invalid_grant', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create()
      expect(authReqId).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(record.id).toMatch(/^[A-Za-z0-9_-]{22}$/)
      s.clock.ms += 5000
      const pending = await failure(pollApproval(s.b, authReqId, 'r1'))
      expect(pending).toBeInstanceOf(AuthorizationPending)
      expect(pending.members).toEqual({ expires_in: 595, interval: 5 })
      expect((await s.b.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r2' })).status).toBe(
        'approved',
      )
      s.clock.ms += 5000
      const redeemed = await pollApproval(s.a, authReqId, 'r3')
      expect(redeemed.record.approvals).toEqual([s.approver('alice').sub])
      expect(redeemed.record.payload).toEqual({ secret: 'not-really', n: expect.any(Number) })
      s.clock.ms += 5000
      expect(await failure(pollApproval(s.b, authReqId, 'r4'))).toBeInstanceOf(InvalidGrant)
    })

    it('lets exactly one of concurrent polls redeem an approved request', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create()
      await s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' })
      s.clock.ms += 5000
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => pollApproval(i % 2 ? s.a : s.b, authReqId, 'r')),
      )
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      for (const r of results)
        if (r.status === 'rejected') expect([SlowDown, InvalidGrant]).toContain(r.reason.constructor)
    })

    it('gives a redemption back when minting failed, so the requester can poll again', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create()
      await s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' })
      s.clock.ms += 5000
      await releaseRedemption(s.a, await pollApproval(s.a, authReqId, 'r'))
      s.clock.ms += 5000
      expect((await pollApproval(s.b, authReqId, 'r')).record.id).toBe(record.id)
    })

    it('answers slow_down to a poll sooner than the interval, growing it by 5 s and enforcing it', async () => {
      const s = approvalSetup(store)
      const { authReqId } = await s.create()
      s.clock.ms += 1000
      const first = await failure(pollApproval(s.a, authReqId, 'r'))
      expect(first).toBeInstanceOf(SlowDown)
      expect(first.members).toEqual({ interval: 10 })
      s.clock.ms += 9000 // 9 s < the new 10 s
      const second = await failure(pollApproval(s.b, authReqId, 'r'))
      expect(second.members).toEqual({ interval: 15 })
      s.clock.ms += 15_000
      const pending = await failure(pollApproval(s.a, authReqId, 'r'))
      expect(pending).toBeInstanceOf(AuthorizationPending)
      expect(pending.members).toMatchObject({ interval: 15 })
    })

    it('answers access_denied after a denial, repeatedly, and refuses later decisions with 409', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create({}, { minApprovals: 2 })
      await s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' })
      expect((await s.b.decide(record.id, s.approver('bob'), 'deny', { requestId: 'r' })).status).toBe(
        'denied',
      )
      for (let i = 0; i < 2; i++) {
        s.clock.ms += 5000
        expect(await failure(pollApproval(s.a, authReqId, 'r'))).toBeInstanceOf(AccessDenied)
      }
      const late = await failure(s.a.decide(record.id, s.approver('carol'), 'approve', { requestId: 'r' }))
      expect(late).toBeInstanceOf(ApprovalConflict)
      expect(late.status).toBe(409)
    })

    it('answers expired_token after the timeout for 10 more minutes, then invalid_grant', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create({}, { timeout: 30 })
      s.clock.ms += 30_000
      expect(await failure(pollApproval(s.a, authReqId, 'r'))).toBeInstanceOf(ExpiredToken)
      s.clock.ms += 9 * 60_000
      expect(await failure(pollApproval(s.b, authReqId, 'r'))).toBeInstanceOf(ExpiredToken)
      expect(s.audit.events.filter((e) => e.event === 'approval.expired')).toHaveLength(1)
      const decide = await failure(s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' }))
      expect(decide).toBeInstanceOf(ApprovalNotFound)
      s.clock.ms += 61_000
      expect(await failure(pollApproval(s.a, authReqId, 'r'))).toBeInstanceOf(InvalidGrant)
    })

    it('refuses unknown and malformed handles with invalid_grant', async () => {
      const s = approvalSetup(store)
      const { authReqId } = await s.create()
      s.clock.ms += 5000
      const other = `${authReqId.slice(0, 42)}${authReqId.endsWith('A') ? 'B' : 'A'}`
      for (const bad of [
        other,
        '',
        'x',
        `${authReqId}=`,
        `${authReqId} `,
        authReqId.slice(1),
        'a'.repeat(5000),
      ]) {
        expect(await failure(pollApproval(s.a, bad, 'r'))).toBeInstanceOf(InvalidGrant)
      }
    })
  })

  it('answers any string that is not a live handle with invalid_grant, never anything else', async () => {
    const s = approvalSetup(store)
    await s.create()
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)), async (handle) => {
        expect(await failure(pollApproval(s.a, handle, 'r'))).toBeInstanceOf(InvalidGrant)
      }),
      { numRuns: store.name === 'memory' ? 200 : 20 },
    )
  })

  describe('decisions', () => {
    it('needs two distinct approvers for minApprovals 2 (four eyes)', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create({}, { minApprovals: 2 })
      const alice = s.approver('alice')
      expect((await s.a.decide(record.id, alice, 'approve', { requestId: 'r' })).status).toBe('pending')
      const again = await failure(s.b.decide(record.id, alice, 'approve', { requestId: 'r' }))
      expect(again).toBeInstanceOf(ApprovalConflict)
      const done = await s.b.decide(record.id, s.approver('bob'), 'approve', { requestId: 'r' })
      expect(done.status).toBe('approved')
      expect(done.record.approvals).toEqual([alice.sub, s.approver('bob').sub])
    })

    it('lets exactly one of racing approvers decide a one-approval request', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create()
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? s.a : s.b).decide(record.id, s.approver(`ap${i}`), i === 3 ? 'deny' : 'approve', {
            requestId: 'r',
          }),
        ),
      )
      const won = results.filter((r) => r.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ApprovalConflict)
      const final = await s.a.get(record.id)
      expect(final?.status).not.toBe('pending')
      expect(
        s.audit.events.filter((e) => e.event === 'approval.approved' || e.event === 'approval.denied'),
      ).toHaveLength(1)
    })

    it('counts each of two racing approvals of a four-eyes request once', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create({}, { minApprovals: 2 })
      const [x, y] = await Promise.all([
        s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' }),
        s.b.decide(record.id, s.approver('bob'), 'approve', { requestId: 'r' }),
      ])
      expect([x.status, y.status].sort()).toEqual(['approved', 'pending'])
      expect((await s.a.get(record.id))?.approvals).toHaveLength(2)
    })

    it('refuses the requester, and the actor of a delegated request, with 403', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create({ requester: { provider: 'agents', sub: 'me', actorSub: 'bot' } })
      for (const sub of ['me', 'bot']) {
        const err = await failure(
          s.a.decide(record.id, { policy: 'secops', sub, idp: 'corp-sso' }, 'approve', { requestId: 'r' }),
        )
        expect(err).toBeInstanceOf(AccessDenied)
        expect(err.status).toBe(403)
      }
    })

    it('refuses approvers of another policy with 403', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create()
      const err = await failure(
        s.a.decide(record.id, s.approver('eve', 'other-approvers'), 'approve', { requestId: 'r' }),
      )
      expect(err.status).toBe(403)
      expect((await s.a.get(record.id))?.approvals).toEqual([])
    })

    it('answers 404 for unknown, malformed and expired ids', async () => {
      const s = approvalSetup(store)
      const { record } = await s.create({}, { timeout: 60 })
      for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'nope', '', '../approval#x', `${record.id}x`]) {
        const err = await failure(s.a.decide(id, s.approver('alice'), 'approve', { requestId: 'r' }))
        expect(err).toBeInstanceOf(ApprovalNotFound)
      }
      s.clock.ms += 60_000
      expect(
        await failure(s.b.decide(record.id, s.approver('alice'), 'deny', { requestId: 'r' })),
      ).toBeInstanceOf(ApprovalNotFound)
    })
  })

  describe('listing', () => {
    it('lists only pending, unexpired requests of the approvers policy that the caller may still decide', async () => {
      const s = approvalSetup(store)
      const team = `secops-${s.requester}` // a partition of its own on the shared table
      const mine = (sub: string) => s.approver(sub, team)
      const open = await s.create({}, { minApprovals: 2, approvers: { policy: team } })
      const decided = await s.create({}, { approvers: { policy: team } })
      await s.create({}, { timeout: 10, approvers: { policy: team } })
      const elsewhere = await s.create({}, { approvers: { policy: `other-${team}` } })
      await s.a.decide(decided.record.id, mine('bob'), 'deny', { requestId: 'r' })
      await s.a.decide(open.record.id, mine('carol'), 'approve', { requestId: 'r' })
      s.clock.ms += 10_000
      const listed = await s.b.list(mine('alice'))
      expect(listed.map((l) => l.id)).toEqual([open.record.id])
      expect(listed[0]).toEqual({
        id: open.record.id,
        policy: 'agent-prod-logs',
        requester: { provider: 'agents', sub: s.requester },
        grant: { audience: ['https://logs.example.com'], scope: 'logs:read', ttl: 900 },
        reason: 'incident 42',
        requested_at: '2026-12-06T12:00:00.000Z',
        expires_at: '2026-12-06T12:10:00.000Z',
        approvals: [mine('carol').sub],
      })
      expect(await s.b.list(mine('carol'))).toEqual([]) // already approved it
      expect(await s.b.list({ policy: team, sub: s.requester, idp: 'agents' })).toEqual([]) // own request
      const other = await s.b.list(s.approver('x', `other-${team}`))
      expect(other.map((l) => l.id)).toEqual([elsewhere.record.id])
    })
  })

  describe('what is never written', () => {
    it('stores only the SHA-256 of auth_req_id and never logs it', async () => {
      const s = approvalSetup(store)
      const { authReqId, record } = await s.create()
      s.clock.ms += 5000
      await failure(pollApproval(s.a, authReqId, 'r'))
      await s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' })
      s.clock.ms += 5000
      await pollApproval(s.b, authReqId, 'r')
      const stored = JSON.stringify([...s.tableA.written, ...s.tableB.written])
      expect(stored).not.toContain(authReqId)
      expect(JSON.stringify(s.audit.events)).not.toContain(authReqId)
      expect(s.audit.events.map((e) => e.event)).toEqual(['approval.requested', 'approval.approved'])
    })
  })
})

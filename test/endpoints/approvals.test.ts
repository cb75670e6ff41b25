import { describe, expect, it } from 'vitest'
import { approvalsOf } from '../../lib/approval/broker-approvals.js'
import { approvalsEndpoint } from '../../lib/endpoints/approvals.js'
import type { BrokerError } from '../../lib/errors.js'
import { errorResponse } from '../../lib/http/respond.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { approvalBroker } from './approval-broker.js'

async function setup() {
  const b = await approvalBroker()
  const approvals = approvalsOf(b.broker)
  const pending = await approvals.create({
    policy: 'agent-prod-logs',
    approval: { approvers: { policy: 'secops' }, minApprovals: 2, timeout: 600 },
    requester: { provider: 'agents', sub: 'agent-7' },
    grant: { audience: ['https://logs.example.com'], scope: 'logs:read', ttl: 900 },
    reason: 'incident 42',
    payload: null,
    requestId: 'req-0',
  })
  /** Calls the core and serializes a thrown error the way the HTTP layer does. */
  const call = async (req: HttpRequest): Promise<HttpResponse> => {
    try {
      return await approvalsEndpoint(b.broker, req)
    } catch (err) {
      return errorResponse(err as BrokerError, req.requestId)
    }
  }
  const decide = async (id: string, sub: string, decision: string, o: { policy?: string } = {}) =>
    call(
      b.request('POST', `/approvals/${id}`, {
        token: await b.tokenFor(sub, o),
        form: { decision },
        pathParams: { id },
      }),
    )
  const list = async (sub: string, o: { policy?: string } = {}) =>
    call(b.request('GET', '/approvals', { token: await b.tokenFor(sub, o) }))
  return { ...b, id: pending.record.id, authReqId: pending.authReqId, call, decide, list }
}

const json = (r: HttpResponse) => JSON.parse(r.body) as Record<string, unknown>

describe('GET /approvals', () => {
  it('lists the pending request for an approver of its policy', async () => {
    const s = await setup()
    const res = await s.list('alice')
    expect(res.status).toBe(200)
    expect(res.headers['Cache-Control']).toBe('no-store')
    expect(json(res)).toEqual({
      approvals: [
        {
          id: s.id,
          policy: 'agent-prod-logs',
          requester: { provider: 'agents', sub: 'agent-7' },
          grant: { audience: ['https://logs.example.com'], scope: 'logs:read', ttl: 900 },
          reason: 'incident 42',
          requested_at: '2026-12-06T12:00:00.000Z',
          expires_at: '2026-12-06T12:10:00.000Z',
          approvals: [],
        },
      ],
    })
    expect(res.body).not.toContain(s.authReqId)
  })

  it('gives an approver of another policy, and the requester, an empty list', async () => {
    const s = await setup()
    expect(json(await s.list('alice', { policy: 'auditors' }))).toEqual({ approvals: [] })
    expect(json(await s.list('agent-7'))).toEqual({ approvals: [] })
  })

  it('answers 401 without a valid Tessera token, 403 without scope tessera:approve', async () => {
    const s = await setup()
    expect((await s.call(s.request('GET', '/approvals'))).status).toBe(401)
    expect((await s.call(s.request('GET', '/approvals', { token: 'not.a.token' }))).status).toBe(401)
    const foreignAud = await s.tokenFor('alice', { aud: ['https://logs.example.com'] })
    expect((await s.call(s.request('GET', '/approvals', { token: foreignAud }))).status).toBe(401)
    const noScope = await s.tokenFor('alice', { scopes: ['tessera:introspect'] })
    const res = await s.call(s.request('GET', '/approvals', { token: noScope }))
    expect(res.status).toBe(403)
    expect(json(res).error).toBe('insufficient_scope')
  })

  it('answers 405 to other methods', async () => {
    const s = await setup()
    const res = await s.call(s.request('POST', '/approvals', { token: await s.tokenFor('alice') }))
    expect(res.status).toBe(405)
  })
})

describe('POST /approvals/{id}', () => {
  it('counts approvals towards minApprovals, then reports approved', async () => {
    const s = await setup()
    const first = await s.decide(s.id, 'alice', 'approve')
    expect([first.status, json(first)]).toEqual([200, { status: 'pending' }])
    const second = await s.decide(s.id, 'bob', 'approve')
    expect([second.status, json(second)]).toEqual([200, { status: 'approved' }])
    const events = s.audit.events.filter((e) => e.event === 'approval.approved')
    expect(events.map((e) => [e.approver, e.status])).toEqual([
      ['alice', 'pending'],
      ['bob', 'approved'],
    ])
  })

  it('reports denied', async () => {
    const s = await setup()
    expect(json(await s.decide(s.id, 'alice', 'deny'))).toEqual({ status: 'denied' })
    expect(s.audit.events.some((e) => e.event === 'approval.denied' && e.approver === 'alice')).toBe(true)
  })

  it('answers 409 to a second approval by the same approver and to a decided request', async () => {
    const s = await setup()
    await s.decide(s.id, 'alice', 'approve')
    const again = await s.decide(s.id, 'alice', 'approve')
    expect([again.status, json(again).error]).toEqual([409, 'conflict'])
    await s.decide(s.id, 'bob', 'deny')
    expect((await s.decide(s.id, 'carol', 'approve')).status).toBe(409)
  })

  it('answers 403 to the requester and to approvers of another policy', async () => {
    const s = await setup()
    const own = await s.decide(s.id, 'agent-7', 'approve')
    expect([own.status, json(own).error]).toEqual([403, 'access_denied'])
    expect((await s.decide(s.id, 'alice', 'approve', { policy: 'auditors' })).status).toBe(403)
  })

  it('answers 404 to an unknown or expired id', async () => {
    const s = await setup()
    expect((await s.decide('AAAAAAAAAAAAAAAAAAAAAA', 'alice', 'approve')).status).toBe(404)
    s.clock.ms += 600_000
    const expired = await s.decide(s.id, 'alice', 'approve')
    expect([expired.status, json(expired).error]).toEqual([404, 'not_found'])
  })

  it('refuses a missing or unknown decision and an overlong reason with 400', async () => {
    const s = await setup()
    const token = await s.tokenFor('alice')
    for (const form of [{}, { decision: 'maybe' }, { decision: 'approve', reason: 'x'.repeat(201) }]) {
      const res = await s.call(
        s.request('POST', `/approvals/${s.id}`, { token, form, pathParams: { id: s.id } }),
      )
      expect([res.status, json(res).error]).toEqual([400, 'invalid_request'])
    }
    expect((await s.list('alice')).body).toContain('"approvals":[]')
  })

  it('finds the id in the path when the router gives no parameters', async () => {
    const s = await setup()
    const token = await s.tokenFor('alice')
    const res = await s.call(
      s.request('POST', `/approvals/${s.id}`, { token, form: { decision: 'approve' } }),
    )
    expect(json(res)).toEqual({ status: 'pending' })
    const nested = await s.call(
      s.request('POST', `/approvals/${s.id}/x`, { token, form: { decision: 'approve' } }),
    )
    expect(nested.status).toBe(404)
  })

  it('answers 405 to GET on one request', async () => {
    const s = await setup()
    const res = await s.call(s.request('GET', `/approvals/${s.id}`, { pathParams: { id: s.id } }))
    expect(res.status).toBe(405)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import {
  agentBroker,
  BROKER,
  CIBA,
  claimsOf,
  decide,
  exchange,
  JWT_TYPE,
  T0,
  TOKEN_EXCHANGE,
} from './agent-fixture.js'

let agents: TestIssuer
let others: TestIssuer
beforeAll(async () => {
  agents = await startTestIssuer({ alg: 'ES256' })
  others = await startTestIssuer({ alg: 'ES256' })
})
afterAll(async () => {
  await agents.close()
  await others.close()
})

const agentToken = () => agents.sign({ sub: 'agent-7', aud: BROKER })
const ask = (token: string, audience: string, extra: Record<string, string> = {}) => ({
  grant_type: TOKEN_EXCHANGE,
  subject_token: token,
  subject_token_type: JWT_TYPE,
  audience,
  ...extra,
})
const poll = (authReqId: string) => ({ grant_type: CIBA, auth_req_id: authReqId })

/** A pending tickets request: the broker, its handle and the approval id (from the audit log). */
async function pendingTickets(opts: Parameters<typeof agentBroker>[2] = {}) {
  const b = await agentBroker(agents, others, opts)
  const res = await exchange(
    b.broker,
    ask(await agentToken(), 'https://tickets.example.com', { reason: 'INC-42' }),
  )
  const authReqId = String(res.body.auth_req_id)
  const requested = b.audit.events.find((e) => e.event === 'approval.requested')
  return { ...b, res, authReqId, id: String(requested?.approval_id) }
}

describe('token exchange of a grant that needs approval', () => {
  it('answers authorization_pending with a handle instead of a credential, and consumes the subject token', async () => {
    const b = await agentBroker(agents, others)
    const token = await agentToken()
    const res = await exchange(b.broker, ask(token, 'https://tickets.example.com'))
    expect(res).toEqual({
      status: 400,
      body: {
        error: 'authorization_pending',
        auth_req_id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        expires_in: 600,
        interval: 5,
      },
    })
    const again = await exchange(b.broker, ask(token, 'https://tickets.example.com'))
    expect(again.body.error).toBe('invalid_request')
    expect(b.audit.events.find((e) => e.event === 'approval.requested')).toMatchObject({
      policy: 'agent-tickets',
      provider: 'agents',
      sub: 'agent-7',
      grant: { audience: ['https://tickets.example.com'], scope: 'tickets:write', ttl: 900 },
    })
  })

  it('still mints a grant without approval at once', async () => {
    const b = await agentBroker(agents, others)
    const res = await exchange(b.broker, ask(await agentToken(), 'https://logs.example.com'))
    expect(res.status).toBe(200)
    expect(claimsOf(res.body.access_token).approved_by).toBeUndefined()
  })

  it('mints once the approver approved, with approved_by, audited with the approval id; then invalid_grant', async () => {
    const p = await pendingTickets()
    p.clock.ms += 5000
    expect((await exchange(p.broker, poll(p.authReqId))).body).toMatchObject({
      error: 'authorization_pending',
    })
    expect((await decide(p.broker, p.signer, p.id, 'alice', 'approve')).body).toEqual({ status: 'approved' })
    p.clock.ms += 5000
    const res = await exchange(p.broker, poll(p.authReqId))
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'tickets:write', expires_in: 900 })
    const claims = claimsOf(res.body.access_token)
    expect(claims).toMatchObject({
      sub: 'agent-7',
      client_id: 'agent-tickets',
      aud: 'https://tickets.example.com',
      approved_by: ['alice'],
    })
    expect(p.audit.events.find((e) => e.event === 'token.exchange')).toMatchObject({
      policy: 'agent-tickets',
      approval_id: p.id,
    })
    p.clock.ms += 5000
    expect((await exchange(p.broker, poll(p.authReqId))).body.error).toBe('invalid_grant')
  })

  it('answers a poll on another broker instance sharing the store', async () => {
    const clock = { ms: T0 }
    const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
    const p = await pendingTickets({ table, clock })
    const other = await agentBroker(agents, others, { table, clock, signer: p.signer })
    await decide(other.broker, p.signer, p.id, 'alice', 'approve')
    clock.ms += 5000
    expect((await exchange(other.broker, poll(p.authReqId))).status).toBe(200)
  })

  it.each([
    ['its scopes', 'scopes: [tickets:write]', 'scopes: [tickets:write, tickets:admin]'],
    ['its lifetime', 'scopes: [tickets:write], ttl: 15m', 'scopes: [tickets:write], ttl: 12h'],
  ])('refuses to mint when the policy widened %s while the request waited', async (_, from, to) => {
    const clock = { ms: T0 }
    const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
    const p = await pendingTickets({ table, clock })
    const configure = (text: string) => text.replace(from, to)
    const widened = await agentBroker(agents, others, { table, clock, signer: p.signer, configure })
    await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    clock.ms += 5000
    const res = await exchange(widened.broker, poll(p.authReqId))
    expect([res.status, res.body.error]).toEqual([400, 'invalid_grant'])
    expect(widened.audit.events.some((e) => e.event === 'token.exchange')).toBe(false)
  })

  it('refuses to mint when the policy came to need more approvals while the request waited', async () => {
    const clock = { ms: T0 }
    const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
    const p = await pendingTickets({ table, clock })
    const configure = (text: string) =>
      text.replace(
        'approval: { approvers: { policy: secops } }',
        'approval: { approvers: { policy: secops }, minApprovals: 2 }',
      )
    const stricter = await agentBroker(agents, others, { table, clock, signer: p.signer, configure })
    expect((await decide(p.broker, p.signer, p.id, 'alice', 'approve')).body).toEqual({ status: 'approved' })
    clock.ms += 5000
    const res = await exchange(stricter.broker, poll(p.authReqId))
    expect([res.status, res.body.error]).toEqual([400, 'invalid_grant'])
  })

  it('needs two distinct approvers for production data', async () => {
    const b = await agentBroker(agents, others)
    const res = await exchange(b.broker, ask(await agentToken(), 'https://data.example.com'))
    const authReqId = String(res.body.auth_req_id)
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    expect((await decide(b.broker, b.signer, id, 'alice', 'approve')).body).toEqual({ status: 'pending' })
    expect((await decide(b.broker, b.signer, id, 'alice', 'approve')).status).toBe(409)
    b.clock.ms += 5000
    expect((await exchange(b.broker, poll(authReqId))).body.error).toBe('authorization_pending')
    await decide(b.broker, b.signer, id, 'bob', 'approve')
    b.clock.ms += 5000
    const minted = await exchange(b.broker, poll(authReqId))
    expect(claimsOf(minted.body.access_token).approved_by).toEqual(['alice', 'bob'])
  })

  it('answers slow_down to a poll sooner than the interval', async () => {
    const p = await pendingTickets()
    p.clock.ms += 1000
    expect((await exchange(p.broker, poll(p.authReqId))).body).toEqual({ error: 'slow_down', interval: 10 })
  })

  it('answers access_denied after a denial', async () => {
    const p = await pendingTickets()
    await decide(p.broker, p.signer, p.id, 'alice', 'deny')
    p.clock.ms += 5000
    expect((await exchange(p.broker, poll(p.authReqId))).body.error).toBe('access_denied')
    expect(p.audit.events.some((e) => e.event === 'token.exchange')).toBe(false)
  })

  it('answers expired_token once the timeout passed undecided', async () => {
    const b = await agentBroker(agents, others)
    const res = await exchange(b.broker, ask(await agentToken(), 'https://data.example.com'))
    b.clock.ms += 60_000
    expect((await exchange(b.broker, poll(String(res.body.auth_req_id)))).body.error).toBe('expired_token')
    expect(b.audit.events.some((e) => e.event === 'approval.expired')).toBe(true)
  })

  it('refuses to mint when the policy was revoked while the request waited', async () => {
    const p = await pendingTickets()
    await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    await p.broker.revocations.revoke({ policy: 'agent-tickets' }, 'ops')
    p.clock.ms += 5000
    const res = await exchange(p.broker, poll(p.authReqId))
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request'])
    expect(p.audit.events.some((e) => e.event === 'token.exchange')).toBe(false)
  })

  it('puts no request from a revoked subject or policy in front of approvers', async () => {
    const b = await agentBroker(agents, others)
    await b.broker.revocations.revoke({ provider: 'agents', sub: 'agent-7' }, 'ops')
    const res = await exchange(b.broker, ask(await agentToken(), 'https://tickets.example.com'))
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request'])
    expect(b.audit.events.some((e) => e.event === 'approval.requested')).toBe(false)
  })

  it.each([
    [{ grant_type: CIBA }, 'invalid_request'],
    [{ grant_type: CIBA, auth_req_id: 'nope' }, 'invalid_grant'],
    [{ grant_type: CIBA, auth_req_id: 'A'.repeat(43) }, 'invalid_grant'],
  ])('refuses the poll %o', async (form, error) => {
    const b = await agentBroker(agents, others)
    expect((await exchange(b.broker, form as Record<string, string>)).body.error).toBe(error)
  })

  it('refuses a reason longer than 200 characters before consuming anything', async () => {
    const b = await agentBroker(agents, others)
    const token = await agentToken()
    const long = await exchange(
      b.broker,
      ask(token, 'https://tickets.example.com', { reason: 'x'.repeat(201) }),
    )
    expect(long.body.error).toBe('invalid_request')
    expect((await exchange(b.broker, ask(token, 'https://tickets.example.com'))).body.error).toBe(
      'authorization_pending',
    )
  })

  it('never writes the handle or a minted token to the audit log', async () => {
    const p = await pendingTickets()
    await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    p.clock.ms += 5000
    const res = await exchange(p.broker, poll(p.authReqId))
    const log = JSON.stringify(p.audit.events)
    expect(log).not.toContain(p.authReqId)
    expect(log).not.toContain(String(res.body.access_token).split('.')[2])
  })
})

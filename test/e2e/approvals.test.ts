import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runApprovals } from '../../lib/cli/approvals.js'
import { type Harness, startHarness } from './harness.js'

// The whole approval flow through the local server (routes from the endpoint manifest): an agent
// asks, an approver lists and approves with the CLI, the agent polls and gets the token once.

const CIBA = 'urn:openid:params:grant-type:ciba'
const clock = { ms: Date.now() }
let h: Harness
beforeAll(async () => {
  h = await startHarness({
    policies: `
policies:
  - name: agent-tickets
    provider: ci
    match: { sub: agent-7 }
    grant:
      token: { audience: https://tickets.example.com, scopes: [tickets:write], ttl: 15m }
      approval: { approvers: { policy: secops }, minApprovals: 2, timeout: 10m }
  - name: secops
    provider: ci
    match: { sub: { glob: "approver-*" } }
    grant:
      token: { audience: "{{broker}}", scopes: [tessera:approve], ttl: 1h }
`,
    brokerOptions: { now: () => clock.ms },
  })
})
afterAll(() => h.close())

async function approverToken(sub: string): Promise<string> {
  const res = await h.post(h.exchangeForm(await h.issuer.sign({ sub, aud: h.url }), { audience: h.url }))
  return ((await res.json()) as { access_token: string }).access_token
}

async function cli(argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await runApprovals([...argv, '--url', h.url], {
    fetch: globalThis.fetch,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  })
  return { code, out, err }
}

const poll = async (authReqId: string) => {
  const res = await h.post({ grant_type: CIBA, auth_req_id: authReqId })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('approval over HTTP', () => {
  it('holds the grant until two approvers approve, then hands the token over once', async () => {
    const agent = await h.issuer.sign({ sub: 'agent-7', aud: h.url })
    const res = await h.post(
      h.exchangeForm(agent, { audience: 'https://tickets.example.com', reason: 'INC-1' }),
    )
    expect(res.status).toBe(400)
    const pending = (await res.json()) as Record<string, unknown>
    expect(pending).toMatchObject({ error: 'authorization_pending', expires_in: 600, interval: 5 })
    expect(res.headers.get('cache-control')).toBe('no-store')
    const authReqId = String(pending.auth_req_id)

    const alice = await approverToken('approver-alice')
    const listed = await cli(['list', '--admin-token', alice])
    expect(listed.code).toBe(0)
    const id = listed.out[0]?.split(' ')[0] ?? ''
    expect(listed.out[0]).toContain('agent-7 (ci) wants agent-tickets')
    expect((await cli(['approve', id, '--admin-token', alice])).out).toEqual([
      `approved ${id}; more approvals are needed`,
    ])
    clock.ms += 5000
    expect((await poll(authReqId)).body.error).toBe('authorization_pending')
    expect((await cli(['approve', id, '--admin-token', await approverToken('approver-bob')])).out).toEqual([
      `approved ${id}`,
    ])
    clock.ms += 5000
    const minted = await poll(authReqId)
    expect(minted.status).toBe(200)
    const claims = JSON.parse(
      Buffer.from(String(minted.body.access_token).split('.')[1] ?? '', 'base64url').toString(),
    )
    expect(claims).toMatchObject({ sub: 'agent-7', approved_by: ['approver-alice', 'approver-bob'] })
    clock.ms += 5000
    expect((await poll(authReqId)).body.error).toBe('invalid_grant')
    expect(JSON.stringify(h.audit.events)).not.toContain(authReqId)
  })

  it('refuses the approvals endpoints without an approver token, and odd paths', async () => {
    expect((await fetch(`${h.url}/approvals`)).status).toBe(401)
    expect((await fetch(`${h.url}/approvals/x`, { method: 'POST' })).status).toBe(401)
    expect((await fetch(`${h.url}/approvals/a/b`, { method: 'POST' })).status).toBe(404)
    expect((await fetch(`${h.url}/approvals/..`, { method: 'POST' })).status).toBe(404)
  })
})

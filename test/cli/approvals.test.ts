import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runApprovals } from '../../lib/cli/approvals.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import { JWT_TYPE, TOKEN_EXCHANGE } from '../token/agent-fixture.js'
import { serveAgentBroker } from './approval-server.js'

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
let served: Awaited<ReturnType<typeof serveAgentBroker>> | undefined
afterEach(async () => {
  await served?.close()
  served = undefined
})

/** A broker with one pending request for `audience`; returns its approval id and an approver token maker. */
async function pending(audience = 'https://tickets.example.com') {
  served = await serveAgentBroker(agents, others)
  const s = served
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: await agents.sign({ sub: 'agent-7', aud: s.base }),
    subject_token_type: JWT_TYPE,
    audience,
    reason: 'INC-42',
  })
  const res = await fetch(`${s.base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  })
  expect(res.status).toBe(400)
  const id = String(s.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
  const token = async (sub: string, scopes = ['tessera:approve']) =>
    (
      await mintAccessToken(s.signer, {
        issuer: s.base,
        sub,
        audience: [s.base],
        scopes,
        ttl: 3600,
        clientId: 'secops',
        idp: 'corp-sso',
        now: s.broker.now(),
      })
    ).token
  return { ...s, id, token }
}

async function run(argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await runApprovals(argv, {
    fetch: globalThis.fetch,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  })
  return { code, out, err }
}

describe('tessera approvals', () => {
  it('lists the pending request, then approves it', async () => {
    const p = await pending()
    const admin = await p.token('alice')
    const listed = await run(['list', '--url', p.base, '--admin-token', admin])
    expect(listed.code).toBe(0)
    expect(listed.out).toHaveLength(1)
    expect(listed.out[0]).toMatch(
      new RegExp(`^${p.id}  agent-7 \\(agents\\) wants agent-tickets .*reason: INC-42;`),
    )
    const approved = await run(['approve', p.id, '--url', p.base, '--admin-token', admin, '--reason', 'ok'])
    expect(approved).toEqual({ code: 0, out: [`approved ${p.id}`], err: [] })
    expect((await run(['list', '--url', p.base, '--admin-token', admin])).out).toEqual([
      'no pending approval requests for you',
    ])
  })

  it('says when more approvals are needed, and denies with the token read from @file', async () => {
    const p = await pending('https://data.example.com')
    expect(
      (await run(['approve', p.id, '--url', p.base, '--admin-token', await p.token('alice')])).out,
    ).toEqual([`approved ${p.id}; more approvals are needed`])
    const file = join(await mkdtemp(join(tmpdir(), 'tessera-')), 'approver.jwt')
    await writeFile(file, `${await p.token('bob')}\n`)
    expect((await run(['deny', p.id, '--url', p.base, '--admin-token', `@${file}`])).out).toEqual([
      `denied ${p.id}`,
    ])
  })

  it('prints the broker refusal (409, 403, 404) and exits 1 without printing the token', async () => {
    const p = await pending()
    const admin = await p.token('alice')
    await run(['approve', p.id, '--url', p.base, '--admin-token', admin])
    const again = await run(['approve', p.id, '--url', p.base, '--admin-token', admin])
    expect(again.code).toBe(1)
    expect(again.err[0]).toMatch(/^conflict: /)
    const own = await run(['deny', p.id, '--url', p.base, '--admin-token', await p.token('agent-7')])
    expect(own.err[0]).toMatch(/^access_denied: /)
    const unknown = await run(['deny', 'AAAAAAAAAAAAAAAAAAAAAA', '--url', p.base, '--admin-token', admin])
    expect(unknown.err[0]).toMatch(/^not_found: /)
    const noScope = await run(['list', '--url', p.base, '--admin-token', await p.token('alice', ['x'])])
    expect(noScope.err[0]).toMatch(/^insufficient_scope: /)
    expect(JSON.stringify([again, own, unknown, noScope])).not.toContain(admin)
  })

  it('an unreachable broker exits 1 naming the URL and the cause', async () => {
    const r = await run(['list', '--url', 'http://127.0.0.1:9', '--admin-token', 't'])
    expect(r.code).toBe(1)
    expect(r.err[0]).toMatch(/^tessera approvals: cannot reach http:\/\/127\.0\.0\.1:9\/approvals: \S/)
  })

  it.each([
    [[]],
    [['show']],
    [['approve', '--url', 'https://sts.example.com', '--admin-token', 't']],
    [['list', 'x', '--url', 'https://sts.example.com', '--admin-token', 't']],
    [['list', '--url', 'https://sts.example.com', '--admin-token', 't', '--reason', 'r']],
    [['approve', 'a/b', '--url', 'https://sts.example.com', '--admin-token', 't']],
    [['approve', 'id', 'extra', '--url', 'https://sts.example.com', '--admin-token', 't']],
    [['list', '--admin-token', 't', '--url', 'http://sts.example.com']],
    [['list', '--admin-token', 't', '--url', 'https://sts.example.com/?q=1']],
    [['list', '--admin-token', 't', '--url', 'not a url']],
    [['list', '--url', 'https://sts.example.com']],
    [['list', '--url', 'https://sts.example.com', '--admin-token', 't', '--bogus']],
  ])('refuses %j as a usage error (exit 2)', async (argv) => {
    const saved = process.env.TESSERA_URL
    delete process.env.TESSERA_URL
    try {
      const r = await run(argv)
      expect(r.code).toBe(2)
      expect(r.err.at(-1)).toMatch(/usage: tessera approvals/)
    } finally {
      if (saved !== undefined) process.env.TESSERA_URL = saved
    }
  })

  it('exits 1 when the broker is unreachable', async () => {
    const r = await run(['list', '--url', 'http://127.0.0.1:1', '--admin-token', 't'])
    expect(r.code).toBe(1)
  })
})

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { exchangeCommand } from '../../lib/cli/exchange.js'
import { awaitApproval, type Pending, pendingOf } from '../../lib/client/approval-wait.js'
import { requestExchange } from '../../lib/client/exchange.js'
import { ExchangeFailed } from '../../lib/errors.js'
import { serveAgentBroker } from '../cli/approval-server.js'
import { runSpec } from '../cli/run-command.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import { claimsOf, decide, JWT_TYPE } from '../token/agent-fixture.js'

/** Runs `tessera exchange` in-process: its stdout on success, else an error with its stderr and exit code. */
async function runExchange(argv: string[]): Promise<string> {
  const r = await runSpec(exchangeCommand, argv, { fetch: (...a) => globalThis.fetch(...a), env: {} })
  if (r.code !== 0)
    throw Object.assign(new Error(r.stderr.trim() || r.stdout.trim()), { code: r.code, stdout: r.stdout })
  return r.stdout.replace(/\n$/, '')
}

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

/** A pending request through the real client; sleeping advances the broker's clock instead of waiting. */
async function pendingRequest(audience = 'https://tickets.example.com') {
  served = await serveAgentBroker(agents, others)
  const s = served
  const endpoint = `${s.base}/token`
  const subjectToken = await agents.sign({ sub: 'agent-7', aud: s.base })
  const err = await requestExchange(endpoint, {
    subjectToken,
    subjectTokenType: JWT_TYPE,
    audiences: [audience],
  }).catch((e: unknown) => e)
  const pending = pendingOf(err) as Pending
  expect(pending).toMatchObject({ expires_in: expect.any(Number), interval: 5 })
  const id = String(s.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
  const lines: string[] = []
  const sleeps: number[] = []
  let onSleep: (n: number) => Promise<void> = async () => {}
  const opts = {
    now: () => s.clock.ms,
    notify: (line: string) => lines.push(line),
    sleep: async (ms: number) => {
      sleeps.push(ms)
      s.clock.ms += ms
      await onSleep(sleeps.length)
    },
  }
  return {
    ...s,
    endpoint,
    pending,
    id,
    lines,
    sleeps,
    opts,
    whenSleeping: (f: (n: number) => Promise<void>) => {
      onSleep = f
    },
  }
}

describe('waiting for approval (client)', () => {
  it('polls at the interval until approved, prints one line with the expiry, and returns the credential', async () => {
    const p = await pendingRequest()
    p.whenSleeping(async (n) => {
      if (n === 2) await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    })
    const body = await awaitApproval(p.endpoint, p.pending, p.opts)
    expect(claimsOf(body.access_token).approved_by).toEqual(['alice'])
    expect(p.sleeps).toEqual([5000, 5000])
    expect(p.lines).toHaveLength(1)
    expect(p.lines[0]).toMatch(/^waiting for approval until \d{4}-\d\d-\d\dT[\d:.]+Z/)
  })

  it('slows down when told to', async () => {
    const p = await pendingRequest()
    p.whenSleeping(async (n) => {
      if (n === 1) p.clock.ms -= 4000 // this poll arrives a second after the request: too soon
      if (n === 2) await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    })
    await awaitApproval(p.endpoint, p.pending, p.opts)
    expect(p.sleeps).toEqual([5000, 10_000])
  })

  it('rejects with access_denied when an approver denies', async () => {
    const p = await pendingRequest()
    p.whenSleeping(async () => {
      await decide(p.broker, p.signer, p.id, 'alice', 'deny')
    })
    const err = await awaitApproval(p.endpoint, p.pending, p.opts).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ExchangeFailed)
    expect((err as ExchangeFailed).error).toBe('access_denied')
  })

  it('rejects with expired_token when nobody decides in time', async () => {
    const p = await pendingRequest('https://data.example.com')
    const err = await awaitApproval(p.endpoint, p.pending, p.opts).catch((e: unknown) => e)
    expect((err as ExchangeFailed).error).toBe('expired_token')
    expect(p.sleeps.length).toBe(12) // 60 s at 5 s
  })

  it('stops waiting on a broker that answers pending past the expiry', async () => {
    const forever: typeof fetch = async () =>
      new Response(JSON.stringify({ error: 'authorization_pending', interval: 5 }), { status: 400 })
    let now = 0
    const err = await awaitApproval(
      'http://127.0.0.1:1/token',
      { ...pendingShape(), expires_in: 30 },
      {
        fetch: forever,
        now: () => now,
        sleep: async (ms) => {
          now += ms
        },
        notify: () => {},
      },
    ).catch((e: unknown) => e)
    expect((err as ExchangeFailed).error).toBe('expired_token')
  })

  it('keeps polling through a broker outage (503), since the approved request stays redeemable', async () => {
    const p = await pendingRequest()
    await decide(p.broker, p.signer, p.id, 'alice', 'approve')
    let calls = 0
    const flaky: typeof fetch = async (input, init) => {
      if (++calls > 1) return fetch(input, init)
      const body = { error: 'temporarily_unavailable', error_description: 'the store is unavailable' }
      return new Response(JSON.stringify(body), { status: 503 })
    }
    const body = await awaitApproval(p.endpoint, p.pending, { ...p.opts, fetch: flaky })
    expect(claimsOf(body.access_token).approved_by).toEqual(['alice'])
    expect(p.sleeps).toEqual([5000, 5000])
  })

  it('does not treat other failures as pending', () => {
    expect(
      pendingOf(new ExchangeFailed('invalid_target', 'x', 400, { error: 'invalid_target' })),
    ).toBeUndefined()
    expect(
      pendingOf(new ExchangeFailed('authorization_pending', 'x', 400, { error: 'authorization_pending' })),
    ).toBe(undefined)
    expect(pendingOf(new Error('x'))).toBeUndefined()
  })
})

function pendingShape(): Pending {
  return { error: 'authorization_pending', auth_req_id: 'A'.repeat(43), expires_in: 60, interval: 5 }
}

describe('tessera exchange (approval and delegation flags)', () => {
  it('--no-wait hands back the auth_req_id JSON', async () => {
    served = await serveAgentBroker(agents, others)
    const token = await agents.sign({ sub: 'agent-7', aud: served.base })
    const argv = [
      '--url',
      served.base,
      '--token',
      token,
      '--audience',
      'https://tickets.example.com',
      '--no-wait',
    ]
    const err = (await runExchange(argv).catch((e: unknown) => e)) as { code: number; stdout: string }
    expect(err.code).toBe(3)
    expect(JSON.parse(err.stdout)).toEqual({
      auth_req_id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_in: 600,
      interval: 5,
    })
  })

  it('--actor-token delegates and --reason reaches the approvers', async () => {
    served = await serveAgentBroker(agents, others)
    const user = await agents.sign({ sub: 'user-1', aud: served.base })
    const actor = await agents.sign({ sub: 'agent-7', aud: served.base })
    const out = await runExchange([
      '--url',
      served.base,
      '--token',
      user,
      '--actor-token',
      actor,
      '--audience',
      'https://api.example.com',
    ])
    expect(claimsOf(JSON.parse(out).access_token).act).toEqual({ sub: 'agent-7', idp: 'agents' })
    const again = await agents.sign({ sub: 'user-1', aud: served.base })
    const actor2 = await agents.sign({ sub: 'agent-7', aud: served.base })
    const argv = [
      '--url',
      served.base,
      '--token',
      again,
      '--actor-token',
      actor2,
      '--audience',
      'https://admin.example.com',
    ]
    await runExchange([...argv, '--reason', 'rotate keys', '--no-wait']).catch(() => undefined)
    expect(served.audit.events.find((e) => e.event === 'approval.requested')?.reason).toBe('rotate keys')
  })

  it('refuses --actor-token with --instance, and two readers of stdin', async () => {
    await expect(
      runExchange([
        '--url',
        'http://127.0.0.1:1',
        '--instance',
        'aws',
        '--actor-token',
        't',
        '--audience',
        'a',
      ]),
    ).rejects.toThrow(/--instance/)
    await expect(
      runExchange(['--url', 'http://127.0.0.1:1', '--token', '-', '--actor-token', '-', '--audience', 'a']),
    ).rejects.toThrow(/stdin/)
  })
})

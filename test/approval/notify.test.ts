import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { approvalNotification } from '../../lib/approval/notify.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { approvalSetup } from './approval-fixture.js'

const memory = {
  name: 'memory',
  open: (now: () => number) => new MemoryTable(() => Math.floor(now() / 1000)),
}

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

/** A loopback webhook; `answer` decides what it does with each request (it may never answer). */
async function webhook(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const bodies: string[] = []
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8')
    })
    req.on('end', () => {
      bodies.push(body)
      answer(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, bodies }
}

const notifyConfig = (url: string) => ({ notify: { webhook: url } })

describe('approval webhook', () => {
  it('POSTs the request summary with a one-line text, and nothing secret', async () => {
    const hook = await webhook((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'))
    const s = approvalSetup(memory, { fetch: globalThis.fetch })
    const { authReqId, record, notified } = await s.create(
      { reason: 'incident 42\nsecond line' },
      notifyConfig(hook.url),
    )
    await notified
    expect(hook.bodies).toHaveLength(1)
    const body = JSON.parse(hook.bodies[0] ?? '')
    expect(body).toEqual({
      event: 'approval.requested',
      id: record.id,
      policy: 'agent-prod-logs',
      requester: { provider: 'agents', sub: s.requester },
      grant: { audience: ['https://logs.example.com'], scope: 'logs:read', ttl: 900 },
      reason: 'incident 42 second line',
      expires_at: '2026-12-06T12:10:00.000Z',
      text: expect.stringMatching(/^Approval needed: [^\n]+$/),
    })
    expect(body.text).toContain(record.id)
    expect(hook.bodies[0]).not.toContain(authReqId)
    expect(hook.bodies[0]).not.toContain('not-really') // the stored mint payload stays private
    expect(s.audit.events.map((e) => e.event)).toEqual(['approval.requested'])
  })

  it('gives up on a webhook that never answers, within its bound, and audits a WARN', async () => {
    const hook = await webhook(() => undefined)
    const s = approvalSetup(memory, { fetch: globalThis.fetch, notifyTimeoutMs: 50 })
    const { authReqId, notified } = await s.create({}, notifyConfig(hook.url))
    await notified
    const failed = s.audit.events.find((e) => e.event === 'approval.notify_failed')
    expect(failed).toMatchObject({ level: 'WARN', reason: expect.stringContaining('no answer') })
    expect(JSON.stringify(s.audit.events)).not.toContain(authReqId)
  })

  it('does not hold up the request while the webhook hangs', async () => {
    let release = () => {}
    let arrived = () => {}
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const hook = await webhook((_req, res) => {
      release = () => res.writeHead(503).end()
      arrived()
    })
    const s = approvalSetup(memory, { fetch: globalThis.fetch, notifyTimeoutMs: 60_000 })
    let settled = false
    const { notified } = await s.create({}, notifyConfig(hook.url))
    void notified.then(() => {
      settled = true
    })
    await arrival // the webhook holds the request: create() has already returned
    expect(settled).toBe(false)
    release()
    await notified
    expect(s.audit.events.find((e) => e.event === 'approval.notify_failed')?.reason).toContain('503')
  })

  it.each([
    [500, 'HTTP 500'],
    [404, 'HTTP 404'],
    [302, 'redirect'],
  ])('audits a webhook answering %i without failing the request', async (status, reason) => {
    const hook = await webhook((_req, res) =>
      res.writeHead(status, { location: 'https://evil.example' }).end(),
    )
    const s = approvalSetup(memory, { fetch: globalThis.fetch })
    const { notified } = await s.create({}, notifyConfig(hook.url))
    await expect(notified).resolves.toBeUndefined()
    expect(s.audit.events.find((e) => e.event === 'approval.notify_failed')?.reason).toContain(reason)
  })

  it('audits an unreachable webhook', async () => {
    const s = approvalSetup(memory, { fetch: globalThis.fetch })
    const { notified } = await s.create({}, notifyConfig('http://127.0.0.1:1/hook'))
    await notified
    expect(s.audit.events.find((e) => e.event === 'approval.notify_failed')?.reason).toContain('connection')
  })

  it('survives a fetch that throws synchronously', async () => {
    const s = approvalSetup(memory, {
      fetch: () => {
        throw new TypeError('boom')
      },
    })
    const { notified } = await s.create({}, notifyConfig('https://hooks.example.com/x'))
    await expect(notified).resolves.toBeUndefined()
    expect(s.audit.events.some((e) => e.event === 'approval.notify_failed')).toBe(true)
  })

  it('keeps the text on one line whatever the reason holds', () => {
    const text = approvalNotification({
      id: 'i',
      policy: 'p',
      approvers: 'a',
      minApprovals: 2,
      requester: { provider: 'x', sub: 'line\r\nbreak\u2028sep' },
      grant: {},
      reason: 'a\u0000b',
      requestedAt: 0,
      deadline: 60,
      status: 'pending',
      approvals: [],
      version: 1,
      payload: null,
    }).text
    expect(text).toBe(text.replace(/[^\x20-\x7e]/g, ''))
  })

  it('escapes what a Slack-style webhook would turn into links or mentions in the text', () => {
    const note = approvalNotification({
      id: 'i',
      policy: 'p',
      approvers: 'a',
      minApprovals: 1,
      requester: { provider: 'x', sub: '<!channel>' },
      grant: {},
      reason: 'urgent <https://evil.example/approve|Approve here> & thanks',
      requestedAt: 0,
      deadline: 60,
      status: 'pending',
      approvals: [],
      version: 1,
      payload: null,
    })
    expect(note.text).not.toMatch(/[<>]/)
    expect(note.text).toContain('&lt;https://evil.example/approve|Approve here&gt; &amp; thanks')
    expect(note.text).toContain('&lt;!channel&gt;')
    // The structured members stay as they are: a receiver that reads JSON escapes for itself.
    expect(note.reason).toBe('urgent <https://evil.example/approve|Approve here> & thanks')
  })
})

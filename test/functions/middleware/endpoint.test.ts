import { describe, expect, it } from 'vitest'
import { lambdaEndpoint } from '../../../functions/middleware/endpoint.js'
import type { Broker } from '../../../lib/broker.js'
import type { EndpointCore } from '../../../lib/endpoints/manifest.js'
import { InvalidRequest, TemporarilyUnavailable } from '../../../lib/errors.js'
import { jsonResponse } from '../../../lib/http/respond.js'
import { captureStdout } from '../../audit/capture-stdout.js'

// The one error serializer on the Lambda path: an unexpected error is a bare
// `server_error` 500 with the request id, never its message or stack; OAuth errors keep theirs.

type Result = { statusCode: number; headers: Record<string, string>; body: string }
type Logged = Result & { logs: Record<string, unknown>[] }
const broker = {} as Broker
const event = (requestId?: string) => ({
  rawPath: '/x',
  headers: {},
  body: '',
  requestContext: {
    ...(requestId ? { requestId } : {}),
    http: { method: 'POST', path: '/x', sourceIp: '198.51.100.1' },
  },
})

/** Invokes the handler; what it logs is captured (and asserted where expected), not printed. */
async function invoke(core: EndpointCore, requestId?: string): Promise<Logged> {
  const handler = lambdaEndpoint(core, async () => broker) as unknown as (
    e: unknown,
    c: unknown,
  ) => Promise<Result>
  let res: Result | undefined
  const lines = await captureStdout(async () => {
    res = await handler(event(requestId), {})
  })
  return { ...(res as Result), logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('lambdaEndpoint error serializer', () => {
  it('an unexpected error is 500 server_error naming the request id, without message or stack', async () => {
    const res = await invoke(async () => {
      throw new Error('boom: /secret/path/config.yaml')
    }, 'req-abc123')
    expect(res.statusCode).toBe(500)
    const body = JSON.parse(res.body) as Record<string, string>
    expect(body.error).toBe('server_error')
    expect(body.error_description).toMatch(/\(request id: req-abc123\)$/)
    expect(res.body).not.toContain('boom')
    expect(res.body).not.toContain('secret')
    expect(res.body).not.toMatch(/\bat \S+:\d+/)
    expect(res.headers['cache-control'] ?? res.headers['Cache-Control']).toBe('no-store')
    // The detail goes to the log (once, ERROR, with the request id) instead.
    expect(res.logs).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'request failed',
        request_id: 'req-abc123',
        error: expect.objectContaining({ message: 'boom: /secret/path/config.yaml' }),
      }),
    ])
  })

  it('a thrown non-Error value is a 500 too, never a crash', async () => {
    const res = await invoke(async () => {
      throw 'a string'
    })
    expect(res.statusCode).toBe(500)
    expect(JSON.parse(res.body).error).toBe('server_error')
    expect(res.body).not.toContain('a string')
    expect(res.logs).toEqual([expect.objectContaining({ level: 'ERROR', error: { value: 'a string' } })])
  })

  it('a request without an id gets one, echoed in the description', async () => {
    const res = await invoke(async () => {
      throw new Error('x')
    })
    const id = /\(request id: ([^)]+)\)$/.exec(JSON.parse(res.body).error_description)?.[1]
    expect(id).toMatch(/\S{8,}/)
  })

  it('an OAuth error keeps its status, code and description', async () => {
    const res = await invoke(async () => {
      throw new InvalidRequest('subject_token is missing')
    }, 'req-1')
    expect(res.statusCode).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/^subject_token is missing/),
    })
    expect(res.logs).toEqual([])
  })

  it('an outage is 503 temporarily_unavailable with Retry-After', async () => {
    const res = await invoke(async () => {
      throw new TemporarilyUnavailable('the store is down')
    }, 'req-2')
    expect(res.statusCode).toBe(503)
    expect(JSON.parse(res.body).error).toBe('temporarily_unavailable')
    expect(res.headers['retry-after'] ?? res.headers['Retry-After']).toBeDefined()
    expect(res.logs).toEqual([expect.objectContaining({ level: 'ERROR', request_id: 'req-2' })])
  })

  it('a base64 body that is not UTF-8 is 400 invalid_request (no replacement characters), as on the local server', async () => {
    const handler = lambdaEndpoint(
      async (_b, r) => jsonResponse(200, { body: r.body }, r.requestId),
      async () => broker,
    ) as unknown as (e: unknown, c: unknown) => Promise<Result>
    const bad = {
      ...event('req-4'),
      isBase64Encoded: true,
      body: Buffer.from([0x67, 0x3d, 0xff, 0xfe]).toString('base64'),
    }
    const res = await handler(bad, {})
    expect(res.statusCode).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/not valid UTF-8/),
    })
    const good = {
      ...event('req-5'),
      isBase64Encoded: true,
      body: Buffer.from('a=é', 'utf8').toString('base64'),
    }
    expect(JSON.parse((await handler(good, {})).body)).toEqual({ body: 'a=é' })
  })

  it('a normal answer passes through', async () => {
    const res = await invoke(async (_b, r) => jsonResponse(200, { ok: true }, r.requestId), 'req-3')
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ ok: true })
  })
})

import { describe, expect, it } from 'vitest'
import { lambdaEndpoint } from '../../functions/middleware/endpoint.js'
import type { Broker } from '../../lib/broker.js'
import { nonceEndpoint } from '../../lib/endpoints/nonce.js'
import { StoreUnavailable } from '../../lib/errors.js'
import { createNonceService } from '../../lib/instance/nonce.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { captureStdout } from '../audit/capture-stdout.js'

const NOW = Date.parse('2026-03-01T12:00:30Z')

function call(
  table: StateTable,
  opts: { method?: string; ip?: string; rateLimit?: number; kinds?: string[] } = {},
) {
  const broker = {
    table,
    now: () => NOW,
    config: {
      nonce: { rateLimit: opts.rateLimit ?? 120 },
      providers: (opts.kinds ?? ['azure-imds']).map((kind) => ({ kind })),
    },
  } as unknown as Broker
  const handler = lambdaEndpoint(nonceEndpoint, async () => broker)
  const event = {
    rawPath: '/nonce',
    headers: {},
    body: '',
    requestContext: {
      requestId: 'req-1',
      http: { method: opts.method ?? 'POST', path: '/nonce', sourceIp: opts.ip ?? '198.51.100.7' },
    },
  }
  return (
    handler as unknown as (
      e: unknown,
      c: unknown,
    ) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>
  )(event, {})
}

describe('POST /nonce handler', () => {
  it('returns a 10-digit nonce valid for 300 s, no-store, that the verifier side can consume once', async () => {
    const table = new MemoryTable(() => Math.floor(NOW / 1000))
    const res = await call(table)
    expect(res.statusCode).toBe(200)
    expect(res.headers['Cache-Control']).toBe('no-store')
    const body = JSON.parse(res.body)
    expect(body).toEqual({ nonce: expect.stringMatching(/^\d{10}$/), expires_in: 300 })
    const service = createNonceService(table, { rateLimitPerMinute: 1, now: () => NOW })
    expect(await service.consume(body.nonce)).toBe(true)
    expect(await service.consume(body.nonce)).toBe(false)
  })

  it('answers 429 with Retry-After past the per-address limit', async () => {
    const table = new MemoryTable(() => Math.floor(NOW / 1000))
    for (let i = 0; i < 2; i++) expect((await call(table, { rateLimit: 2 })).statusCode).toBe(200)
    const res = await call(table, { rateLimit: 2 })
    expect(res.statusCode).toBe(429)
    expect(res.headers['Retry-After']).toBe('30')
    expect(JSON.parse(res.body).error).toBe('invalid_request')
    expect((await call(table, { rateLimit: 2, ip: '203.0.113.9' })).statusCode).toBe(200)
  })

  it('is not served (404, nothing stored) when no azure-imds provider is configured', async () => {
    const table = new MemoryTable(() => Math.floor(NOW / 1000))
    const res = await call(table, { kinds: ['oidc', 'aws-ec2'] })
    expect(res.statusCode).toBe(404)
    expect(JSON.parse(res.body).error).toBe('not_found')
    expect(table.size).toBe(0)
  })

  it('refuses GET with 405', async () => {
    const res = await call(new MemoryTable(), { method: 'GET' })
    expect(res.statusCode).toBe(405)
  })

  it('answers 503 when the store is down', async () => {
    const down: StateTable = {
      put: () => Promise.reject(new StoreUnavailable('down')),
      get: () => Promise.reject(new StoreUnavailable('down')),
      delete: () => Promise.reject(new StoreUnavailable('down')),
      query: () => Promise.reject(new StoreUnavailable('down')),
      increment: () => Promise.reject(new StoreUnavailable('down')),
      merge: () => Promise.reject(new StoreUnavailable('down')),
    }
    let res: Awaited<ReturnType<typeof call>> | undefined
    const logs = await captureStdout(async () => {
      res = await call(down)
    })
    expect(res?.statusCode).toBe(503)
    expect(JSON.parse(res?.body ?? '').error).toBe('temporarily_unavailable')
    // The outage is logged once (ERROR, with its request id), not printed into the test run.
    expect(logs.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        request_id: 'req-1',
        error: expect.objectContaining({ detail: 'down' }),
      }),
    ])
  })
})

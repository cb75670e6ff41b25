import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerError } from '../../lib/errors.js'
import { callGithub, retryAfterSeconds } from '../../lib/github/client.js'

// A loopback peer answering whatever the test says, to check what the client refuses.
let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end()
let server: Server
let url: string
beforeAll(async () => {
  server = createServer((_req, res) => answer(res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const deps = { fetch: globalThis.fetch, now: Date.now }
const get = () => callGithub(url, { method: 'GET', path: '/x', authorization: 'Bearer j' }, deps)

async function failure(): Promise<BrokerError> {
  const err = await get().then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw new Error(`expected a BrokerError, got ${String(err)}`)
  return err
}

describe('GitHub client: answers it refuses (503, never a 500)', () => {
  it('a redirect is not followed', async () => {
    answer = (res) => res.writeHead(302, { location: 'https://evil.example.com/' }).end()
    expect((await failure()).status).toBe(503)
  })

  it('a body that is not JSON', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>')
    expect((await failure()).detail).toMatch(/not JSON/)
  })

  it('a non-JSON content type', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('{}')
    expect((await failure()).status).toBe(503)
  })

  it('an unexpected status', async () => {
    answer = (res) => res.writeHead(418).end()
    expect((await failure()).status).toBe(503)
  })

  it('a plain 403 (no rate-limit signs) is a 503 without the throttling Retry-After', async () => {
    answer = (res) =>
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}')
    const err = await failure()
    expect(err.status).toBe(503)
    expect(err.detail).toMatch(/forbidden/)
  })

  it('a body over the cap', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`"${'x'.repeat(5 * 1024 * 1024)}"`)
    }
    expect((await failure()).status).toBe(503)
  })

  it('passes 2xx and the statuses its callers map, with their JSON', async () => {
    answer = (res) => res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"no"}')
    expect(await get()).toEqual({ status: 422, json: { message: 'no' } })
    answer = (res) => res.writeHead(204).end()
    expect(await get()).toEqual({ status: 204, json: undefined })
  })
})

describe('retryAfterSeconds', () => {
  const headers = (h: Record<string, string>) => new Headers(h)
  it('reads retry-after, else x-ratelimit-reset relative to now', () => {
    expect(retryAfterSeconds(headers({ 'retry-after': '42' }), 0)).toBe(42)
    expect(retryAfterSeconds(headers({ 'x-ratelimit-reset': '1000' }), 900_000)).toBe(100)
    expect(retryAfterSeconds(headers({}), 0)).toBeUndefined()
    expect(retryAfterSeconds(headers({ 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }), 0)).toBeUndefined()
  })

  it('property: always within 1..3600 seconds whatever GitHub sends', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 0, max: 2 ** 40 }), (after, reset, now) => {
        const s = retryAfterSeconds(headers({ 'retry-after': after, 'x-ratelimit-reset': reset }), now)
        if (s !== undefined) {
          expect(s).toBeGreaterThanOrEqual(1)
          expect(s).toBeLessThanOrEqual(3600)
        }
      }),
    )
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FetchFailure } from '../../lib/errors.js'
import { fetchBounded, JSON_CONTENT_TYPE } from '../../lib/http/bounded-fetch.js'

let server: Server
let base: string

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/ok')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    if (path === '/no-type') return void res.writeHead(200).end('{"ok":1}')
    if (path === '/jwk-set')
      return void res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end('{}')
    if (path === '/html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>')
    if (path === '/500') return void res.writeHead(500).end('boom')
    if (path === '/404') return void res.writeHead(404).end()
    if (path === '/redirect') return void res.writeHead(302, { location: 'http://example.com/' }).end()
    if (path === '/declared-large') {
      return void res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' })
        .end('x'.repeat(5000))
    }
    if (path === '/streamed-large') {
      res.writeHead(200, { 'content-type': 'application/json' })
      for (let i = 0; i < 10; i++) res.write('x'.repeat(1000))
      return void res.end()
    }
    if (path === '/bad-utf8') {
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(Buffer.from([0x22, 0xff, 0xfe, 0x22]))
    }
    if (path === '/slow-body') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"partial":')
      return // never finishes
    }
    if (path === '/hang') return // never answers
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const opts = { fetch: globalThis.fetch, timeoutMs: 300, maxBytes: 2048, contentType: JSON_CONTENT_TYPE }

async function failure(path: string, extra: Partial<typeof opts> = {}): Promise<FetchFailure> {
  try {
    await fetchBounded(`${base}${path}`, { ...opts, ...extra })
  } catch (err) {
    expect(err).toBeInstanceOf(FetchFailure)
    return err as FetchFailure
  }
  throw new Error('expected a FetchFailure')
}

describe('fetchBounded', () => {
  it('returns the body of a 200 JSON answer', async () => {
    const res = await fetchBounded(`${base}/ok`, opts)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toEqual({ ok: true })
  })

  it('accepts +json media types and a missing content type', async () => {
    expect((await fetchBounded(`${base}/jwk-set`, opts)).text).toBe('{}')
    expect((await fetchBounded(`${base}/no-type`, opts)).text).toBe('{"ok":1}')
  })

  it('refuses a non-JSON content type', async () => {
    expect((await failure('/html')).reason).toBe('content-type')
  })

  it('refuses error statuses', async () => {
    expect((await failure('/500')).reason).toBe('status')
    expect((await failure('/404')).reason).toBe('status')
  })

  it('does not follow redirects', async () => {
    expect((await failure('/redirect')).reason).toBe('redirect')
  })

  it('refuses a body whose declared length exceeds the cap', async () => {
    expect((await failure('/declared-large')).reason).toBe('too-large')
  })

  it('refuses a streamed body once it exceeds the cap', async () => {
    const err = await failure('/streamed-large')
    expect(err.reason).toBe('too-large')
    expect(err.message).not.toContain('xxx')
  })

  it('refuses invalid UTF-8', async () => {
    expect((await failure('/bad-utf8')).reason).toBe('content-type')
  })

  it('times out a server that never answers', async () => {
    expect((await failure('/hang', { timeoutMs: 100 })).reason).toBe('timeout')
  })

  it('times out a body that never completes', async () => {
    expect((await failure('/slow-body', { timeoutMs: 100 })).reason).toBe('timeout')
  })

  it('reports a refused connection as a network failure', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    await expect(fetchBounded(`http://127.0.0.1:${port}/`, opts)).rejects.toMatchObject({ reason: 'network' })
  })
})

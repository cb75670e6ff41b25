import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type LocalRoute, type RunningServer, startLocalServer } from '../../lib/server/http-server.js'

const routes: LocalRoute[] = [
  {
    path: '/healthz',
    handler: async () => ({ statusCode: 200, headers: {}, body: '{"status":"ok"}', isBase64Encoded: false }),
  },
  {
    path: '/echo',
    handler: async (event) => ({
      statusCode: 200,
      headers: {},
      body: `{"length":${event.body?.length ?? 0}}`,
      isBase64Encoded: false,
    }),
  },
]

let server: RunningServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(timeouts?: { headersMs?: number; requestMs?: number; checkIntervalMs?: number }) {
  server = await startLocalServer({ host: '127.0.0.1', port: 0, routes, ...(timeouts ? { timeouts } : {}) })
  return server
}

/** A raw connection that collects everything the server sends and resolves `closed` when it hangs up. */
function open(
  s: RunningServer,
): Promise<{ socket: Socket; received: () => string; closed: Promise<string> }> {
  const port = Number(new URL(s.url).port)
  return new Promise((resolve, reject) => {
    let out = ''
    const socket = connect(port, '127.0.0.1')
    const closed = new Promise<string>((done) => socket.on('close', () => done(out)))
    socket.on('data', (d) => {
      out += d
    })
    socket.on('error', () => {})
    socket.once('connect', () => resolve({ socket, received: () => out, closed }))
    socket.once('error', reject)
  })
}

const connections = (s: RunningServer) =>
  new Promise<number>((resolve, reject) => s.server.getConnections((e, n) => (e ? reject(e) : resolve(n))))

const POST_HEAD = (length: number) =>
  `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`

describe('local server: a request whose body never completes', () => {
  it('is answered with a JSON 400 and closed at once when the client half-closes', async () => {
    const s = await start()
    const c = await open(s)
    c.socket.end(`${POST_HEAD(100)}grant_type=abc`)
    const response = await c.closed
    expect(response).toMatch(/^HTTP\/1\.1 400 /)
    expect(response).toContain('"error":"invalid_request"')
    expect(response).toMatch(/connection: close/i)
  })

  it('200 such connections are all closed, and the server still answers', async () => {
    const s = await start()
    const clients = await Promise.all(Array.from({ length: 200 }, () => open(s)))
    for (const c of clients) c.socket.end(`${POST_HEAD(64)}x=1`)
    await Promise.all(clients.map((c) => c.closed))
    const ok = await fetch(`${s.url}/healthz`)
    expect(ok.status).toBe(200)
    await ok.text()
    // Only connections still held by the fetch above (keep-alive) may remain.
    expect(await connections(s)).toBeLessThanOrEqual(1)
  })

  it('a body that stalls without a FIN gets a 408 once the request timeout passes, and is closed', async () => {
    const s = await start({ requestMs: 300, headersMs: 200, checkIntervalMs: 50 })
    const c = await open(s)
    c.socket.write(`${POST_HEAD(100)}abc`)
    const response = await c.closed
    expect(response).toMatch(/^HTTP\/1\.1 408 Request Timeout/)
    expect(response).toContain('"error":"invalid_request"')
  })

  it('headers that never complete get a 408 and are closed', async () => {
    const s = await start({ requestMs: 300, headersMs: 200, checkIntervalMs: 50 })
    const c = await open(s)
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    expect(await c.closed).toMatch(/^HTTP\/1\.1 408 /)
  })

  it('a body sent in pieces that does complete is served normally', async () => {
    const s = await start()
    const c = await open(s)
    c.socket.write(`${POST_HEAD(10)}abcde`)
    await new Promise((r) => setImmediate(r))
    c.socket.end('fghij')
    const response = await c.closed
    expect(response).toMatch(/^HTTP\/1\.1 200 /)
    expect(response).toContain('{"length":10}')
  })
})

describe('local server: refused headers', () => {
  it('a header block over the limit is a JSON 431, then closed', async () => {
    const s = await start()
    const c = await open(s)
    c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    const response = await c.closed
    expect(response).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large/)
    expect(response).toContain('"error":"invalid_request"')
  })

  it('a malformed request line is still a JSON 400', async () => {
    const s = await start()
    const c = await open(s)
    c.socket.end('NOT HTTP\r\n\r\n')
    expect(await c.closed).toMatch(/^HTTP\/1\.1 400 Bad Request/)
  })
})

describe('local server: pipelining', () => {
  it('serves a pipelined burst in order, one request at a time, while another client is answered meanwhile', async () => {
    const s = await start()
    const burst = 1000
    const a = await open(s)
    const b = await open(s)
    a.socket.end('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(burst))
    b.socket.end('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    const fromB = await b.closed
    const answeredToA = (a.received().match(/HTTP\/1\.1 200/g) ?? []).length
    expect(fromB).toMatch(/^HTTP\/1\.1 200 /)
    // B did not wait for the whole burst on A.
    expect(answeredToA).toBeLessThan(burst)
    const all = await a.closed
    expect((all.match(/HTTP\/1\.1 200/g) ?? []).length).toBe(burst)
  })
})

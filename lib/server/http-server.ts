import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import {
  type BrokerError,
  InvalidRequest,
  NotFound,
  PayloadTooLarge,
  RequestHeadersTooLarge,
  RequestTimeout,
} from '../errors.js'
import { decodeUtf8Body, type HttpApiEvent, type HttpApiResult } from '../http/api-gateway.js'
import { MAX_BODY_BYTES } from '../http/form.js'
import { routeTable } from '../http/path-template.js'
import { errorResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'

/** A Lambda handler for API Gateway HTTP API events (the very handlers deployed to AWS). */
export type LambdaHandler = (event: HttpApiEvent, context: LocalContext) => Promise<HttpApiResult>
export interface LocalRoute {
  readonly path: string
  readonly handler: LambdaHandler
}
/** Local-only routes (the dev issuer) answer here first; undefined = not mine. */
export type LocalExtra = (req: HttpRequest) => Promise<HttpResponse | undefined>

export interface LocalContext {
  readonly awsRequestId: string
  readonly functionName: string
  getRemainingTimeInMillis(): number
}

export interface RunningServer {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

/** Connection timeouts (ms); the defaults suit `tessera serve`, tests shorten them. */
export interface ServerTimeouts {
  /** The whole header block must arrive within this (408 otherwise). */
  readonly headersMs: number
  /** The whole request, body included, must arrive within this (408 otherwise). */
  readonly requestMs: number
  /** How often Node checks the two above. */
  readonly checkIntervalMs: number
}

const DEFAULT_TIMEOUTS: ServerTimeouts = { headersMs: 10_000, requestMs: 30_000, checkIntervalMs: 5_000 }

/**
 * Serves the Lambda handlers over node:http: each request becomes an API Gateway v2 event, so the
 * local broker runs exactly the code path deployed to AWS. Bodies are capped before buffering.
 */
export async function startLocalServer(opts: {
  host: string
  port: number
  routes: readonly LocalRoute[]
  extra?: LocalExtra
  timeouts?: Partial<ServerTimeouts>
}): Promise<RunningServer> {
  const routes = routeTable(opts.routes)
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts }
  // Pipelined requests on one connection are handled one at a time, each after a turn of the event
  // loop: Node parses a whole pipelined burst at once, and running all of it together would stall
  // every other client until the burst is done.
  const queues = new WeakMap<Socket, Promise<void>>()
  // requireHostHeader off: Node would answer a Host-less HTTP/1.1 request with a bare 400 of its own;
  // routing never reads Host, so such a request is served (or refused) like any other.
  const server = createServer(
    {
      requireHostHeader: false,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    (req, res) => {
      const previous = queues.get(req.socket)
      const turn = previous ? previous.then(nextTurn) : Promise.resolve()
      const done = turn.then(() => handle(req, res, routes, opts.extra))
      queues.set(req.socket, done)
      void done.finally(() => {
        if (queues.get(req.socket) === done) queues.delete(req.socket)
      })
    },
  )
  // An unsupported `Expect` (anything but 100-continue): the contract's JSON error, not Node's bare 417.
  server.on('checkExpectation', (req, res) => {
    const requestId = randomUUID()
    req.resume()
    const { status, headers, body } = errorResponse(
      new InvalidRequest('the Expect header is not supported'),
      requestId,
    )
    send(res, status, { ...headers, Connection: 'close' }, body)
  })
  // Requests Node's parser rejects (bad Content-Length, header overflow, timeouts…) still get the
  // JSON error format, and the connection is always closed.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy()
    const error = clientErrorOf(err)
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
    if (inFlight?.req.complete && !(error instanceof RequestTimeout)) {
      // Garbage pipelined after a complete, valid request: deliver that request's response, then close.
      inFlight.once('finish', () => socket.end())
      inFlight.once('close', () => socket.end())
      return
    }
    // Either nothing is in flight, or the in-flight request's body will never complete (the client
    // closed its half, or it timed out): its handler cannot answer, so answer and close now.
    if (inFlight?.headersSent) return socket.destroy()
    socket.once('finish', () => socket.destroy())
    socket.end(rawErrorResponse(error))
  })
  server.keepAliveTimeout = 65_000
  // A client that pipelines and then closes its sending half still gets every answer (Node's
  // default aborts the requests not yet answered); an incomplete request is still refused above.
  ;(server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: (path: string) => LambdaHandler | undefined,
  extra: LocalExtra | undefined,
): Promise<void> {
  const requestId = randomUUID()
  try {
    const body = await readBody(req)
    const url = parseTarget(req.url)
    const event = toEvent(req, url, body, requestId)
    const handler = routes(url.pathname)
    if (handler) {
      const result = await handler(event, context(requestId))
      return send(res, result.statusCode, result.headers, result.body)
    }
    const own = extra && (await extra(toLocalRequest(req, url, body, requestId)))
    const response = own ?? errorResponse(new NotFound(), requestId)
    send(res, response.status, response.headers, response.body)
  } catch (err) {
    const response = errorResponse(err, requestId)
    send(res, response.status, { ...response.headers, Connection: 'close' }, response.body)
  }
}

/** Origin-form request targets only (`/path?query`); anything else is the client's error. */
function parseTarget(target: string | undefined): { pathname: string; search: string } {
  if (!target?.startsWith('/') || target.startsWith('//'))
    throw new InvalidRequest('malformed request target')
  const q = target.indexOf('?')
  return q === -1
    ? { pathname: target, search: '' }
    : { pathname: target.slice(0, q), search: target.slice(q) }
}

/** Yields one turn of the event loop, so other connections are read between pipelined requests. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The error a client gets for what Node's parser refused. */
function clientErrorOf(err: NodeJS.ErrnoException): BrokerError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new RequestHeadersTooLarge()
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeout()
  return new InvalidRequest('malformed HTTP request')
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
}

/** A complete HTTP/1.1 error response, for a socket Node's parser has given up on. */
function rawErrorResponse(error: BrokerError): string {
  const { status, headers, body } = errorResponse(error, randomUUID())
  const head = Object.entries({
    ...headers,
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\n${head}\r\n\r\n${body}`
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    // A connection closed before the body is complete: nobody is left to answer.
    req.on('close', () => {
      if (!req.complete) reject(new InvalidRequest('the request body was not completed'))
    })
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > MAX_BODY_BYTES) return reject(new PayloadTooLarge(MAX_BODY_BYTES))
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data')
        req.resume()
        reject(new PayloadTooLarge(MAX_BODY_BYTES))
      } else chunks.push(chunk)
    })
    req.on('end', () => {
      try {
        resolve(decodeUtf8Body(Buffer.concat(chunks)))
      } catch (err) {
        reject(err)
      }
    })
    req.on('error', reject)
  })
}

function toEvent(
  req: IncomingMessage,
  url: { pathname: string; search: string },
  body: string,
  requestId: string,
): HttpApiEvent {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v
  return {
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    body,
    isBase64Encoded: false,
    requestContext: {
      requestId,
      http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '' },
    },
  }
}

function toLocalRequest(
  req: IncomingMessage,
  url: { pathname: string; search: string },
  body: string,
  requestId: string,
): HttpRequest {
  const headers: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    headers,
    body,
    query: url.search.slice(1),
    sourceIp: req.socket.remoteAddress ?? '',
    requestId,
  }
}

function context(requestId: string): LocalContext {
  return { awsRequestId: requestId, functionName: 'tessera-local', getRemainingTimeInMillis: () => 30_000 }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent) return
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

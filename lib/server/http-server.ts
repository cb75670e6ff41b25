import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvalidRequest, NotFound, PayloadTooLarge } from '../errors.js'
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

/**
 * Serves the Lambda handlers over node:http: each request becomes an API Gateway v2 event, so the
 * local broker runs exactly the code path deployed to AWS. Bodies are capped before buffering.
 */
export async function startLocalServer(opts: {
  host: string
  port: number
  routes: readonly LocalRoute[]
  extra?: LocalExtra
}): Promise<RunningServer> {
  const routes = routeTable(opts.routes)
  // requireHostHeader off: Node would answer a Host-less HTTP/1.1 request with a bare 400 of its own;
  // routing never reads Host, so such a request is served (or refused) like any other.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    void handle(req, res, routes, opts.extra)
  })
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
  // Requests Node's parser rejects (bad Content-Length, header overflow…) still get the JSON error format.
  server.on('clientError', (_err, socket) => {
    if (!socket.writable) return socket.destroy()
    // A response to an earlier, valid request on this connection is still being produced (pipelined
    // garbage after it): let it be delivered, then close, rather than writing over it.
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
    if (inFlight) {
      inFlight.once('finish', () => socket.end())
      inFlight.once('close', () => socket.end())
      return
    }
    const { status, headers, body } = errorResponse(
      new InvalidRequest('malformed HTTP request'),
      randomUUID(),
    )
    const head = Object.entries({
      ...headers,
      'Content-Length': String(Buffer.byteLength(body)),
      Connection: 'close',
    })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')
    socket.end(`HTTP/1.1 ${status} Bad Request\r\n${head}\r\n\r\n${body}`)
  })
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
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

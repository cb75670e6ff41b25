import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { AWS_ATTEMPT_TIMEOUT_MS, AWS_DEADLINE_MS, AWS_MAX_ATTEMPTS, withDeadline } from '../aws/retry.js'
import { urlProblem } from '../config/url.js'
import { BrokerError, InvalidRequest, TemporarilyUnavailable } from '../errors.js'
import { readCapped } from '../http/read-capped.js'
import { decodeUtf8 } from '../text/decode-utf8.js'
import { stsErrorCode } from './sts-identity.js'

/**
 * Sends a checked GetCallerIdentity request to STS. node:http(s) rather than fetch: Node's fetch
 * silently replaces the Host header with the URL's, and the signed Host must survive when the
 * request goes to AWS_ENDPOINT_URL_STS (a private endpoint or the test fake) instead of the signed host.
 */

/** STS's answer: status and body text (bounded); never a 5xx or throttling answer (those become 503). */
export interface StsReply {
  readonly status: number
  readonly body: string
}

export interface StsForwardOptions {
  /** Send here instead of the signed host (AWS_ENDPOINT_URL_STS); the signed Host header is kept. */
  readonly endpoint?: string | undefined
  readonly attemptTimeoutMs?: number
  readonly deadlineMs?: number
  readonly maxAttempts?: number
  /** DNS lookup for the dialled host (tests); defaults to the system resolver. */
  readonly lookup?: LookupFunction
}

/** The global endpoint: if it does not resolve, DNS is down (an outage), not a bad request. */
const GLOBAL_STS_HOST = 'sts.amazonaws.com'

/** STS answers are tiny; anything larger is not STS. */
export const MAX_STS_RESPONSE_BYTES = 64 * 1024

/** A request ready to send: the signed host, its headers (Host included) and body. */
export interface StsForwardRequest {
  readonly host: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Creates the forwarder: ≤ 3 attempts of 2 s each within 5 s; retries network errors, 5xx, throttling. */
export function createStsForwarder(
  opts: StsForwardOptions = {},
): (req: StsForwardRequest) => Promise<StsReply> {
  const endpoint =
    opts.endpoint === undefined || opts.endpoint === '' ? undefined : parseEndpoint(opts.endpoint)
  const attemptMs = opts.attemptTimeoutMs ?? AWS_ATTEMPT_TIMEOUT_MS
  const maxAttempts = opts.maxAttempts ?? AWS_MAX_ATTEMPTS
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) }

  return async (req) => {
    const target = endpoint ?? new URL(`https://${req.host}/`)
    try {
      return await withDeadline(async (signal) => {
        let last: unknown
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          if (attempt > 1) await pause(25 * 2 ** attempt, signal)
          try {
            const reply = await sendOnce(target, req, attemptMs, signal, agents, opts.lookup)
            if (!retryable(reply)) return reply
            last = new Error(`STS answered ${reply.status} ${stsErrorCode(reply.body) ?? ''}`.trim())
          } catch (err) {
            if (err instanceof BrokerError) throw err
            // A regional host that does not exist (a made-up, China or isolated-partition region
            // name) is the caller's mistake, and retrying cannot fix it: 400, not 503.
            if (!endpoint && req.host !== GLOBAL_STS_HOST && errorCode(err) === 'ENOTFOUND') {
              throw new InvalidRequest(
                `${req.host} does not resolve: not an AWS STS region (AWS China and isolated partitions are not supported)`,
              )
            }
            last = err
          }
        }
        throw last
      }, opts.deadlineMs ?? AWS_DEADLINE_MS)
    } catch (err) {
      if (err instanceof BrokerError) throw err
      throw new TemporarilyUnavailable('AWS STS is unavailable; retry later').withDetail(
        `GetCallerIdentity: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
      )
    }
  }
}

function parseEndpoint(text: string): URL {
  const problem = urlProblem(text, 'AWS_ENDPOINT_URL_STS', { query: false })
  if (problem) throw new Error(problem)
  return new URL(text)
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
}

function retryable(reply: StsReply): boolean {
  if (reply.status >= 500) return true
  return (
    reply.status === 400 &&
    /^(Throttling|ThrottlingException|RequestLimitExceeded)$/.test(stsErrorCode(reply.body) ?? '')
  )
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}

function sendOnce(
  target: URL,
  req: StsForwardRequest,
  timeoutMs: number,
  signal: AbortSignal,
  agents: { http: HttpAgent; https: HttpsAgent },
  lookup: LookupFunction | undefined,
): Promise<StsReply> {
  const secure = target.protocol === 'https:'
  const hostname = target.hostname.replace(/^\[|\]$/g, '')
  const body = Buffer.from(req.body, 'utf8')
  return new Promise((resolve, reject) => {
    const send = secure ? httpsRequest : httpRequest
    const outgoing = send({
      hostname,
      port: target.port || (secure ? 443 : 80),
      path: target.pathname,
      method: 'POST',
      headers: { ...req.headers, host: req.host, 'content-length': String(body.length) },
      agent: secure ? agents.https : agents.http,
      ...(lookup ? { lookup } : {}),
      // Verify the certificate of the host actually dialled, not of the signed Host header.
      ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
      signal,
    })
    const timer = setTimeout(() => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    outgoing.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    outgoing.on('response', (res: IncomingMessage) => {
      readCapped(res, MAX_STS_RESPONSE_BYTES).then(
        (bytes) => {
          clearTimeout(timer)
          const text = bytes && decodeUtf8(bytes)
          if (bytes === undefined)
            reject(new TemporarilyUnavailable('AWS STS answered with an oversized response'))
          else if (text === undefined)
            reject(new TemporarilyUnavailable('AWS STS answered with a body that is not UTF-8'))
          else resolve({ status: res.statusCode ?? 0, body: text })
        },
        (err: unknown) => {
          clearTimeout(timer)
          reject(err)
        },
      )
    })
    outgoing.end(body)
  })
}

import { randomUUID } from 'node:crypto'
import { lambdaEndpoint } from '../functions/middleware/endpoint.js'
import type { Broker } from '../lib/broker.js'
import { endpointNamed } from '../lib/endpoints/manifest.js'
import type { HttpApiEvent } from '../lib/http/api-gateway.js'
import type { HttpRequest } from '../lib/http/types.js'
import { exchangeToken } from '../lib/token/exchange.js'
import { exchangeBody } from './fixtures.js'

/** One side of an interleaved comparison: its best round. */
export interface RoundBest {
  readonly perSecond: number
  /** Exchanges per CPU second of this process (robust to other load on the machine). */
  readonly perCpuSecond: number
  /** CPU microseconds per exchange at the best round. */
  readonly cpuUs: number
}

/** Two ways of serving the same exchanges, measured in interleaved rounds. */
export interface Comparison {
  readonly a: RoundBest
  readonly b: RoundBest
  /** b / a by CPU time. */
  readonly ratio: number
  readonly rounds: number
  readonly perRound: number
}

type Serve = (token: string) => Promise<boolean>

/**
 * Interleaved rounds of `perRound` sequential exchanges each (a, b, a, b, …), each exchange with a
 * fresh token from `tokens`; keeps each side's best round by CPU time, so a burst of unrelated load
 * on the machine does not favour either side.
 */
export async function compareInterleaved(
  tokens: readonly string[],
  a: Serve,
  b: Serve,
  opts: { rounds: number; perRound: number; warm: number },
): Promise<Comparison> {
  let next = 0
  const take = () => {
    const t = tokens[next++]
    if (t === undefined) throw new Error('bench: token pool ran out')
    return t
  }
  const round = async (serve: Serve, count: number) => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    for (let i = 0; i < count; i++) if (!(await serve(take()))) throw new Error('bench: exchange failed')
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpu)
    return { perSecond: count / seconds, perCpuSecond: count / ((used.user + used.system) / 1e6) }
  }
  await round(a, opts.warm)
  await round(b, opts.warm)
  const best = { a: { perSecond: 0, perCpuSecond: 0 }, b: { perSecond: 0, perCpuSecond: 0 } }
  for (let r = 0; r < opts.rounds; r++) {
    for (const side of r % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const got = await round(side === 'a' ? a : b, opts.perRound)
      if (got.perCpuSecond > best[side].perCpuSecond) best[side] = got
    }
  }
  const finish = (x: { perSecond: number; perCpuSecond: number }): RoundBest => ({
    ...x,
    cpuUs: 1e6 / x.perCpuSecond,
  })
  return {
    a: finish(best.a),
    b: finish(best.b),
    ratio: best.b.perCpuSecond / best.a.perCpuSecond,
    rounds: opts.rounds,
    perRound: opts.perRound,
  }
}

/** The headers API Gateway (HTTP API, payload v2) hands a Lambda for a typical client request. */
function apiGatewayEvent(token: string): HttpApiEvent {
  const requestId = randomUUID()
  const body = exchangeBody(token)
  return {
    rawPath: '/token',
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      'content-length': String(body.length),
      'content-type': 'application/x-www-form-urlencoded',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'tessera-cli/0.1.0',
      'x-amzn-trace-id': `Root=1-${requestId.slice(0, 8)}-${requestId.slice(9).replaceAll('-', '')}`,
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    body,
    isBase64Encoded: false,
    requestContext: {
      requestId,
      http: { method: 'POST', path: '/token', sourceIp: '203.0.113.7' },
    },
  }
}

function coreRequest(token: string): HttpRequest {
  return {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: exchangeBody(token),
    query: '',
    sourceIp: '203.0.113.7',
    requestId: randomUUID(),
  }
}

/**
 * The Lambda path against the bare core, on one broker: the token function's handler as deployed
 * (the manifest's `token` endpoint wrapped by middy, an API Gateway v2 event in, its result out)
 * vs `exchangeToken` called directly. Both build their input from the token inside the timed loop.
 */
export function runLambdaPath(
  broker: Broker,
  tokens: readonly string[],
  opts: { rounds: number; perRound: number; warm: number },
): Promise<Comparison> {
  const endpoint = endpointNamed('token')
  const handler = lambdaEndpoint(endpoint.core, () => Promise.resolve(broker), endpoint.paths)
  const core: Serve = async (token) => (await exchangeToken(broker, coreRequest(token))).status === 200
  const lambda: Serve = async (token) => (await handler(apiGatewayEvent(token), {})).statusCode === 200
  return compareInterleaved(tokens, core, lambda, opts)
}

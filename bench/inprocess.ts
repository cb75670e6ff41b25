import { type Broker, createBroker } from '../lib/broker.js'
import { loadConfigText } from '../lib/config/load.js'
import type { HttpRequest } from '../lib/http/types.js'
import { MemoryTable } from '../lib/store/memory-table.js'
import { exchangeToken } from '../lib/token/exchange.js'
import { brokerConfigText, type ConfigShape, exchangeRequest } from './fixtures.js'

export interface InProcessResult {
  readonly ops: number
  readonly seconds: number
  readonly perSecond: number
  /** Exchanges per second of this process's CPU time (all its threads): robust to other load. */
  readonly perCpuSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly failures: number
}

/** Counts audit events without formatting them, so logging does not dominate the in-process figure. */
export class CountingAuditSink {
  emitted = 0
  emit(): void {
    this.emitted++
  }
}

/** A broker as `tessera serve` builds it (local ES256 key, memory store, replay on), minus log and metric output. */
export async function createBenchBroker(
  shape: ConfigShape,
  opts: { recordUsage?: boolean } = {},
): Promise<Broker> {
  const loaded = loadConfigText(brokerConfigText(shape), 'bench.yaml')
  const table = new MemoryTable()
  // EMF metric lines would go to the terminal; the HTTP phase measures them as served.
  const metrics = { count() {}, timing() {}, flush() {} }
  return createBroker(loaded, { audit: new CountingAuditSink(), table, metrics, ...opts })
}

/** p-th percentile (0..100) of ascending `sorted`. */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

/** Prepares requests (distinct tokens) outside the timed loop. */
export function requestsFor(tokens: readonly string[]): HttpRequest[] {
  return tokens.map(exchangeRequest)
}

/**
 * Calls the token core back to back, one at a time (single-threaded), until the requests or the
 * time budget run out; every response must be 200.
 */
export async function measureExchanges(
  broker: Broker,
  requests: readonly HttpRequest[],
  maxMs: number,
): Promise<InProcessResult> {
  const latencies = new Float64Array(requests.length)
  let ops = 0
  let failures = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const deadline = start + maxMs
  for (const req of requests) {
    const t0 = performance.now()
    try {
      const res = await exchangeToken(broker, req)
      if (res.status !== 200) failures++
    } catch {
      failures++
    }
    const t1 = performance.now()
    latencies[ops++] = t1 - t0
    if (t1 >= deadline) break
  }
  const seconds = (performance.now() - start) / 1000
  const { user, system } = process.cpuUsage(cpu)
  const sorted = latencies.subarray(0, ops).sort()
  return {
    ops,
    seconds,
    perSecond: ops / seconds,
    perCpuSecond: ops / ((user + system) / 1e6),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    failures,
  }
}

/** Warms the JWKS cache and the JIT with `warm` requests, then measures the rest. */
export async function runInProcess(
  broker: Broker,
  requests: readonly HttpRequest[],
  opts: { warm: number; maxMs: number },
): Promise<InProcessResult> {
  const warm = await measureExchanges(broker, requests.slice(0, opts.warm), opts.maxMs)
  if (warm.failures > 0) throw new Error(`in-process warm-up: ${warm.failures} exchanges failed`)
  return measureExchanges(broker, requests.slice(opts.warm), opts.maxMs)
}

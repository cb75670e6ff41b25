import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'

/** The counters Tessera publishes (CloudWatch metric names). */
export type CountMetric =
  | 'exchanges'
  | 'jwks_fetches'
  | 'store_errors'
  | 'kms_errors'
  | 'sts_errors'
  | 'github_errors'
  | 'revocations'
  /** An AWS dependency throttled a call (503 + Retry-After); also counted in its `*_errors`. */
  | 'throttles'
/** The timings Tessera publishes, in milliseconds. */
export type TimingMetric = 'latency'
/**
 * Metric dimensions. Values must come from small fixed sets (`outcome`, `endpoint`, `provider`,
 * `error`), never from callers (subjects, ids): each distinct set is a separate CloudWatch metric.
 */
export type MetricDims = Readonly<Record<string, string>>

/** The metrics API the endpoints call; `flush` once per request (Lambda) or periodically (server). */
export interface Telemetry {
  count(name: CountMetric, dims?: MetricDims, value?: number): void
  timing(name: TimingMetric, ms: number, dims?: MetricDims): void
  /** Writes everything recorded since the last flush (EMF JSON lines on stdout) and clears it. */
  flush(): void
}

export interface MetricsOptions {
  /** CloudWatch namespace; default `Tessera`. */
  readonly namespace?: string | undefined
  /** The `service` dimension; default `tessera`. */
  readonly serviceName?: string | undefined
  /** Distinct dimension sets kept before further ones are folded into the undimensioned metric. */
  readonly maxDimensionSets?: number | undefined
}

const MAX_DIMENSIONS = 3

/**
 * Telemetry through Powertools Metrics: CloudWatch Embedded Metric Format lines on stdout, which
 * CloudWatch Logs turns into metrics on Lambda (no API call, no extra latency). One Powertools
 * Metrics object per dimension set, so `exchanges{outcome=allowed}` and `{outcome=denied}`
 * aggregate separately. Disabled by Powertools itself under `POWERTOOLS_DEV` or
 * `POWERTOOLS_METRICS_DISABLED=true`.
 */
export function createMetrics(opts: MetricsOptions = {}): Telemetry {
  const namespace = opts.namespace ?? 'Tessera'
  const serviceName = opts.serviceName ?? 'tessera'
  const maxSets = opts.maxDimensionSets ?? 32
  const sets = new Map<string, Metrics>()

  const metricsFor = (dims: MetricDims | undefined): Metrics => {
    const entries = Object.entries(dims ?? {})
      .filter(([k, v]) => k !== '' && v !== '' && k !== 'service')
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, MAX_DIMENSIONS)
    let key = JSON.stringify(entries)
    let m = sets.get(key)
    if (m) return m
    if (sets.size >= maxSets) {
      key = '[]'
      m = sets.get(key)
      if (m) return m
    }
    const defaultDimensions = key === '[]' ? {} : Object.fromEntries(entries)
    m = new Metrics({ namespace, serviceName, defaultDimensions })
    sets.set(key, m)
    return m
  }

  return {
    count(name, dims, value = 1) {
      metricsFor(dims).addMetric(name, MetricUnit.Count, value)
    },
    timing(name, ms, dims) {
      metricsFor(dims).addMetric(name, MetricUnit.Milliseconds, Math.max(0, ms))
    },
    flush() {
      for (const m of sets.values()) if (m.hasStoredMetrics()) m.publishStoredMetrics()
    },
  }
}

/** Telemetry that records in memory (tests: assert what an endpoint counted). */
export class MemoryTelemetry implements Telemetry {
  readonly records: { kind: 'count' | 'timing'; name: string; value: number; dims: MetricDims }[] = []
  flushes = 0
  count(name: CountMetric, dims: MetricDims = {}, value = 1): void {
    this.records.push({ kind: 'count', name, value, dims })
  }
  timing(name: TimingMetric, ms: number, dims: MetricDims = {}): void {
    this.records.push({ kind: 'timing', name, value: ms, dims })
  }
  flush(): void {
    this.flushes++
  }
  /** Sum of a counter over records whose dims include `dims`. */
  total(name: CountMetric, dims: MetricDims = {}): number {
    return this.records
      .filter(
        (r) =>
          r.kind === 'count' && r.name === name && Object.entries(dims).every(([k, v]) => r.dims[k] === v),
      )
      .reduce((sum, r) => sum + r.value, 0)
  }
}

/** Telemetry that records nothing (local runs that want no EMF output). */
export const noopTelemetry: Telemetry = { count() {}, timing() {}, flush() {} }

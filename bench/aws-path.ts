import { Worker } from 'node:worker_threads'
import { createBroker } from '../lib/broker.js'
import { loadConfigText } from '../lib/config/load.js'
import { exchangeToken } from '../lib/token/exchange.js'
import type { FakesConfig, FakesCounts, FakesReady } from './aws-fakes-worker.js'
import { brokerConfigText, exchangeRequest, type SubjectIssuer } from './fixtures.js'
import { CountingAuditSink, percentile } from './inprocess.js'
import { mintTokens } from './mint-pool.js'

/** What the AWS critical-path phase reports. */
export interface AwsPathResult {
  readonly kmsSignMs: number
  readonly dynamodbMs: number
  /** Mean DynamoDB answer time as the proxy saw it (its delay plus dynalite's own work). */
  readonly dynamodbAnswerMs: number
  readonly exchanges: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly failures: number
  /** Time the broker's thread was busy per exchange (its own work and the SDK's; not the fakes'), ms. */
  readonly busyMsPerExchange: number
  /** KMS Sign calls per exchange (measured run). */
  readonly kmsSignPerExchange: number
  /** DynamoDB requests per exchange, by operation (measured run). */
  readonly dynamodbPerExchange: Readonly<Record<string, number>>
  /** DynamoDB requests over the measured run, by operation. */
  readonly dynamodbCalls: Readonly<Record<string, number>>
  readonly seconds: number
}

/** Starts the fakes' worker thread; resolves once they listen. */
async function startFakes(config: FakesConfig) {
  // The worker is TypeScript like the rest of the bench: it loads through tsx's API.
  const entry = new URL('./aws-fakes-worker.ts', import.meta.url).href
  const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`
  const worker = new Worker(boot, { eval: true, workerData: config })
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
  const ready = await next<FakesReady>()
  return {
    ready,
    reset: async () => {
      const done = next<'reset'>()
      worker.postMessage('reset')
      await done
    },
    counts: async () => {
      const counts = next<FakesCounts>()
      worker.postMessage('counts')
      return counts
    },
    close: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve))
      worker.postMessage('close')
      await exited
    },
  }
}

/** Sets environment variables for the duration of `work` (the SDK reads endpoints and credentials from them). */
async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await work()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/**
 * The AWS critical path: a broker exactly as the token function builds it (KMS signing key,
 * DynamoDB store, replay on, usage records on, the real SDK clients with their production
 * settings), against a loopback KMS that answers `Sign` in `kmsSignMs` and dynalite answering each
 * request in `dynamodbMs`. Sequential exchanges, one at a time, as one Lambda instance serves them.
 */
export async function runAwsCriticalPath(
  issuer: SubjectIssuer,
  opts: { exchanges: number; warm: number; kmsSignMs?: number; dynamodbMs?: number },
): Promise<AwsPathResult> {
  const kmsSignMs = opts.kmsSignMs ?? 10
  const dynamodbMs = opts.dynamodbMs ?? 5
  const fakes = await startFakes({ kmsSignMs, dynamodbMs })
  const { ready } = fakes
  const tokens = await mintTokens(issuer.spec(600), opts.warm + opts.exchanges)
  try {
    const config = brokerConfigText({
      issuer,
      keyPath: '-',
      policies: 1,
      providers: 1,
      signingKey: `{ kms: ${ready.keyAlias} }`,
      store: `{ dynamodb: { table: ${ready.table} } }`,
    })
    return await withEnv(
      {
        AWS_ENDPOINT_URL_KMS: ready.kmsEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB: ready.dynamodbEndpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDTESSERABENCH',
        AWS_SECRET_ACCESS_KEY: 'bench-secret',
      },
      async () => {
        const metrics = { count() {}, timing() {}, flush() {} }
        const broker = await createBroker(loadConfigText(config, 'aws-bench.yaml'), {
          audit: new CountingAuditSink(),
          metrics,
        })
        try {
          const requests = tokens.map(exchangeRequest)
          for (const req of requests.slice(0, opts.warm)) await exchangeToken(broker, req)
          await fakes.reset()
          const measured = requests.slice(opts.warm)
          const latencies = new Float64Array(measured.length)
          let failures = 0
          const elu = performance.eventLoopUtilization()
          const start = performance.now()
          for (const [i, req] of measured.entries()) {
            const t0 = performance.now()
            try {
              if ((await exchangeToken(broker, req)).status !== 200) failures++
            } catch {
              failures++
            }
            latencies[i] = performance.now() - t0
          }
          const seconds = (performance.now() - start) / 1000
          const busy = performance.eventLoopUtilization(elu)
          const counts = await fakes.counts()
          const n = measured.length
          const sorted = latencies.sort()
          return {
            kmsSignMs,
            dynamodbMs,
            dynamodbAnswerMs: counts.dynamodbAnswerMs,
            exchanges: n,
            p50Ms: percentile(sorted, 50),
            p90Ms: percentile(sorted, 90),
            p99Ms: percentile(sorted, 99),
            failures,
            busyMsPerExchange: busy.active / n,
            kmsSignPerExchange: counts.kmsSign / n,
            dynamodbPerExchange: Object.fromEntries(
              Object.entries(counts.dynamodb).map(([op, c]) => [op, c / n]),
            ),
            dynamodbCalls: counts.dynamodb,
            seconds,
          }
        } finally {
          broker.usage?.stop()
        }
      },
    )
  } finally {
    await fakes.close()
  }
}

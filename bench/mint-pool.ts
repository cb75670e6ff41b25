import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/** What every subject token of a pool shares; each token gets its own `jti` (and iat/exp at mint time). */
export interface MintSpec {
  /** PKCS#8 PEM of the RS256 signing key. */
  readonly privatePem: string
  readonly kid: string
  /** Claims common to the pool (iss, aud, sub, ...). */
  readonly claims: Readonly<Record<string, unknown>>
  /** Seconds until exp. */
  readonly ttl: number
}

// Plain CommonJS so the worker needs no TypeScript loader; node:crypto only.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createPrivateKey, randomUUID, sign } = require('node:crypto')
const { spec, count } = workerData
const key = createPrivateKey(spec.privatePem)
const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: spec.kid })).toString('base64url')
const out = new Array(count)
for (let i = 0; i < count; i++) {
  const now = Math.floor(Date.now() / 1000)
  const payload = { ...spec.claims, iat: now, exp: now + spec.ttl, jti: randomUUID() }
  const input = header + '.' + Buffer.from(JSON.stringify(payload)).toString('base64url')
  out[i] = input + '.' + sign('sha256', Buffer.from(input), key).toString('base64url')
}
parentPort.postMessage(out)
`

const MAX_POOL = 400_000

/** Mints `count` distinct RS256 JWTs (distinct jti) on one worker per core; RSA signing is the slow part. */
export async function mintTokens(spec: MintSpec, count: number): Promise<string[]> {
  if (!Number.isInteger(count) || count < 0 || count > MAX_POOL) throw new Error(`bad pool size ${count}`)
  if (count === 0) return []
  const workers = Math.max(1, Math.min(availableParallelism(), Math.ceil(count / 500)))
  const share = Math.ceil(count / workers)
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      runWorker(spec, Math.max(0, Math.min(share, count - i * share))),
    ),
  )
  return parts.flat()
}

function runWorker(spec: MintSpec, count: number): Promise<string[]> {
  if (count === 0) return Promise.resolve([])
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { spec, count } })
    worker.once('message', (tokens: string[]) => {
      resolve(tokens)
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`mint worker exited with ${code}`))
    })
  })
}

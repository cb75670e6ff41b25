// The AWS fakes of the critical-path phase, on their own thread so that their work (dynalite's
// storage engine, the fake's signature arithmetic) never runs on the thread being measured.

import type { AddressInfo } from 'node:net'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import { startKmsFake } from '../test/fakes/kms.js'
import { startDynalite } from '../test/helpers/dynalite.js'

/** What the worker is told at start. */
export interface FakesConfig {
  readonly kmsSignMs: number
  readonly dynamodbMs: number
}

/** What the worker reports once its fakes listen. */
export interface FakesReady {
  readonly kmsEndpoint: string
  readonly keyAlias: string
  readonly dynamodbEndpoint: string
  readonly table: string
}

/** Counts since the last reset. */
export interface FakesCounts {
  readonly kmsSign: number
  readonly dynamodb: Record<string, number>
  /** Mean time from a DynamoDB request's arrival at the proxy to its answer leaving it, ms. */
  readonly dynamodbAnswerMs: number
}

/**
 * A TCP proxy in front of dynalite that answers each request `delayMs` after it arrived (or when
 * dynalite has answered, if that is later), counts requests by `X-Amz-Target` operation and times
 * the answers as the client sees them.
 */
async function startDelayProxy(port: number, delayMs: number) {
  const calls = new Map<string, number>()
  const answer = { total: 0, count: 0 }
  const sockets = new Set<Socket>()
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1')
    inbound.setNoDelay(true)
    outbound.setNoDelay(true)
    sockets.add(inbound).add(outbound)
    const arrivals: number[] = []
    let due = 0
    let queue: Promise<void> = Promise.resolve()
    const drop = () => {
      inbound.destroy()
      outbound.destroy()
      sockets.delete(inbound)
      sockets.delete(outbound)
    }
    inbound.on('error', drop).on('close', drop)
    outbound.on('error', drop).on('close', drop)
    inbound.on('data', (chunk: Buffer) => {
      const op = /x-amz-target:\s*DynamoDB_\d+\.(\w+)/i.exec(chunk.toString('latin1'))?.[1]
      if (op) {
        calls.set(op, (calls.get(op) ?? 0) + 1)
        arrivals.push(performance.now())
      }
      outbound.write(chunk)
    })
    outbound.on('data', (chunk: Buffer) => {
      const start = chunk.subarray(0, 5).toString('latin1') === 'HTTP/' ? arrivals.shift() : undefined
      // A response's later chunks keep its due time, so they follow its first chunk in order.
      if (start !== undefined) due = start + delayMs
      const at = due
      // One queue per connection: chunks leave in the order they came, each not before its due time.
      queue = queue
        .then(() => {
          const wait = at - performance.now()
          return wait > 0 ? new Promise<void>((r) => setTimeout(r, wait)) : undefined
        })
        .then(() => {
          if (start !== undefined) {
            answer.total += performance.now() - start
            answer.count++
          }
          inbound.write(chunk)
        })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    answer,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function main(): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('aws-fakes-worker runs as a worker thread')
  const config = workerData as FakesConfig
  const kms = await startKmsFake()
  const keyAlias = 'alias/tessera-bench'
  kms.alias(keyAlias, kms.createKey('ECC_NIST_P256'))
  const dynamo = await startDynalite()
  const proxy = await startDelayProxy(Number(new URL(dynamo.endpoint).port), config.dynamodbMs)
  const signLatency = () => kms.inject('latency', { op: 'Sign', ms: config.kmsSignMs, count: Infinity })
  signLatency()
  port.on('message', (msg: 'reset' | 'counts' | 'close') => {
    if (msg === 'reset') {
      kms.reset()
      signLatency()
      proxy.calls.clear()
      proxy.answer.total = 0
      proxy.answer.count = 0
      port.postMessage('reset')
    } else if (msg === 'counts') {
      const counts: FakesCounts = {
        kmsSign: kms.calls('Sign'),
        dynamodb: Object.fromEntries([...proxy.calls].sort()),
        dynamodbAnswerMs: proxy.answer.count ? proxy.answer.total / proxy.answer.count : Number.NaN,
      }
      port.postMessage(counts)
    } else {
      void Promise.all([proxy.close(), dynamo.close(), kms.close()]).then(() => port.close())
    }
  })
  const ready: FakesReady = {
    kmsEndpoint: kms.endpoint,
    keyAlias,
    dynamodbEndpoint: proxy.endpoint,
    table: dynamo.table,
  }
  port.postMessage(ready)
}

void main()

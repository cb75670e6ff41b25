import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { connect, createServer, type Server, type Socket } from 'node:net'
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { awsClientConfig } from '../../lib/aws/retry.js'
import { stateTableDefinition } from '../../lib/store/table-definition.js'

/** A dynalite server on loopback with Tessera's table (pk S HASH, sk S RANGE), reached through a TCP proxy. */
export interface TestDynamo {
  /** `http://127.0.0.1:<port>`: the proxy in front of dynalite (use as AWS_ENDPOINT_URL_DYNAMODB). */
  readonly endpoint: string
  readonly table: string
  /** A real SDK client (Tessera's retry/timeout settings) pointed at `endpoint`. */
  readonly client: DynamoDBClient
  /** Simulates an outage: refuses new connections and cuts open ones; the data survives. */
  stop(): Promise<void>
  /** Ends the outage: listens again on the same port. */
  restart(): Promise<void>
  close(): Promise<void>
}

interface DynaliteServer extends Server {
  close(cb?: (err?: Error) => void): this
}

const require = createRequire(import.meta.url)
const dynalite = require('dynalite') as (opts: { createTableMs?: number }) => DynaliteServer

/** Starts dynalite on 127.0.0.1:0 and creates a fresh table; the TTL attribute is `expiresAt` where supported. */
export async function startDynalite(opts: { table?: string } = {}): Promise<TestDynamo> {
  const db = dynalite({ createTableMs: 0 })
  await listen(db, 0)
  const dbPort = (db.address() as AddressInfo).port

  // The proxy gives tests a real outage (ECONNREFUSED / reset) without losing dynalite's data.
  const sockets = new Set<Socket>()
  const proxy = createServer((inbound) => {
    const outbound = connect(dbPort, '127.0.0.1')
    sockets.add(inbound).add(outbound)
    const drop = () => {
      inbound.destroy()
      outbound.destroy()
      sockets.delete(inbound)
      sockets.delete(outbound)
    }
    inbound.on('error', drop).on('close', drop)
    outbound.on('error', drop).on('close', drop)
    inbound.pipe(outbound).pipe(inbound)
  })
  await listen(proxy, 0)
  const port = (proxy.address() as AddressInfo).port
  const endpoint = `http://127.0.0.1:${port}`
  const table = opts.table ?? `tessera-test-${randomUUID().slice(0, 8)}`
  const client = new DynamoDBClient({
    ...awsClientConfig('dynamodb'),
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTESTTESSERA', secretAccessKey: 'test-secret' },
  })
  await createTable(client, table)

  let stopped = false
  return {
    endpoint,
    table,
    client,
    async stop() {
      if (stopped) return
      stopped = true
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()))
      for (const s of sockets) s.destroy()
      sockets.clear()
      await closed
    },
    async restart() {
      if (!stopped) return
      await listen(proxy, port)
      stopped = false
    },
    async close() {
      client.destroy()
      if (!stopped) {
        const closed = new Promise<void>((resolve) => proxy.close(() => resolve()))
        for (const s of sockets) s.destroy()
        await closed
      }
      await new Promise<void>((resolve) => db.close(() => resolve()))
    },
  }
}

async function createTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(new CreateTableCommand(stateTableDefinition(table)))
  for (let i = 0; i < 100; i++) {
    const out = await client.send(new DescribeTableCommand({ TableName: table }))
    if (out.Table?.TableStatus === 'ACTIVE') break
    await new Promise((r) => setTimeout(r, 10))
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    )
  } catch {
    // dynalite does not implement UpdateTimeToLive; Tessera never relies on TTL deletion (expired = absent).
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll } from 'vitest'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'

/** A way to open a StateTable whose expiry clock is `now` (epoch ms); the same tests run on each. */
export interface StoreKind {
  readonly name: string
  open(now: () => number): StateTable
}

/**
 * The memory store and DynamoDB (dynalite on loopback). Call at the top of a test file: it registers
 * the dynalite lifecycle hooks for that file. Tests must use unique keys (the table is shared).
 */
export function storeKinds(): StoreKind[] {
  let dynamo: TestDynamo | undefined
  beforeAll(async () => {
    dynamo = await startDynalite()
  })
  afterAll(async () => {
    await dynamo?.close()
  })
  return [
    { name: 'memory', open: (now) => new MemoryTable(() => Math.floor(now() / 1000)) },
    {
      name: 'dynamodb (dynalite)',
      open: (now) => {
        if (!dynamo) throw new Error('dynalite not started')
        return new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now })
      },
    },
  ]
}

/** A random EC2 instance id, so tests sharing one table never collide. */
export const instanceId = () => `i-${randomBytes(8).toString('hex').slice(0, 17)}`

import type { StoreConfig } from '../config/schema.js'
import { DynamoDbTable } from './dynamodb-table.js'
import { MemoryTable } from './memory-table.js'
import type { StateTable } from './types.js'

/** Opens the StateTable the config names: `memory` (per process) or `dynamodb` (shared); `now` is epoch ms. */
export function openStateTable(store: StoreConfig, opts: { now?: () => number } = {}): StateTable {
  const now = opts.now ?? Date.now
  if ('memory' in store) return new MemoryTable(() => Math.floor(now() / 1000))
  return new DynamoDbTable({ table: store.dynamodb.table, region: store.dynamodb.region, now })
}

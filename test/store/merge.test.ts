import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'

const T0 = 1_700_000_000_000
const S0 = T0 / 1000
let dynamo: TestDynamo
beforeAll(async () => {
  dynamo = await startDynalite()
})
afterAll(async () => {
  await dynamo.close()
})

let partition = 0
const fresh = () => `merge#${++partition}`

describe.each([
  ['MemoryTable', (clock: { ms: number }) => new MemoryTable(() => Math.floor(clock.ms / 1000))],
  [
    'DynamoDbTable',
    (clock: { ms: number }) =>
      new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now: () => clock.ms }),
  ],
] as const)('%s merge', (_name, make) => {
  const setup = () => {
    const clock = { ms: T0 }
    return { clock, table: make(clock) as StateTable, pk: fresh() }
  }

  it('creates an absent item from add, set and setOnce', async () => {
    const { table, pk } = setup()
    await table.merge(pk, 'a', { add: { n: 2 }, set: { last: 5 }, setOnce: { first: 1 }, expiresAt: S0 + 60 })
    expect(await table.get(pk, 'a')).toEqual({
      pk,
      sk: 'a',
      expiresAt: S0 + 60,
      attrs: { n: 2, last: 5, first: 1 },
    })
  })

  it('adds to counters, overwrites set, keeps setOnce and unnamed attributes, moves the expiry', async () => {
    const { table, pk } = setup()
    await table.merge(pk, 'a', { add: { n: 2 }, set: { last: 5 }, setOnce: { first: 1 }, expiresAt: S0 + 60 })
    await table.merge(pk, 'a', {
      add: { n: 3, m: 1 },
      set: { last: 9 },
      setOnce: { first: 7 },
      expiresAt: S0 + 120,
    })
    expect(await table.get(pk, 'a')).toEqual({
      pk,
      sk: 'a',
      expiresAt: S0 + 120,
      attrs: { n: 5, m: 1, last: 9, first: 1 },
    })
  })

  it('never loses a count under concurrent merges', async () => {
    const { table, pk } = setup()
    await Promise.all(
      Array.from({ length: 20 }, () => table.merge(pk, 'c', { add: { n: 1 }, expiresAt: S0 + 60 })),
    )
    expect((await table.get(pk, 'c'))?.attrs.n).toBe(20)
  })

  it('treats an expired item as absent: old counts and setOnce values do not survive', async () => {
    const { clock, table, pk } = setup()
    await table.merge(pk, 'e', { add: { n: 4 }, setOnce: { first: 1 }, expiresAt: S0 + 10 })
    clock.ms += 11_000
    await table.merge(pk, 'e', { add: { n: 1 }, setOnce: { first: 2 }, expiresAt: S0 + 100 })
    expect((await table.get(pk, 'e'))?.attrs).toEqual({ n: 1, first: 2 })
  })

  it('accepts attribute names with dots, colons and spaces', async () => {
    const { table, pk } = setup()
    await table.merge(pk, 'x', { set: { 'g:repo:write': 1, 'p:a.b c': 2 }, expiresAt: S0 + 60 })
    expect((await table.get(pk, 'x'))?.attrs).toEqual({ 'g:repo:write': 1, 'p:a.b c': 2 })
  })
})

describe('DynamoDbTable merge refusals', () => {
  it('refuses the key and expiry attribute names', async () => {
    const table = new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now: () => T0 })
    await expect(table.merge(fresh(), 'r', { set: { pk: 'x' }, expiresAt: S0 + 1 })).rejects.toThrow(
      TypeError,
    )
    await expect(table.merge(fresh(), 'r', { add: { expiresAt: 1 }, expiresAt: S0 + 1 })).rejects.toThrow(
      TypeError,
    )
  })

  it('fails closed (StoreUnavailable) when DynamoDB is unreachable', async () => {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb')
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    })
    const table = new DynamoDbTable({ table: 'none', client, now: () => T0 })
    await expect(table.merge(fresh(), 'r', { add: { n: 1 }, expiresAt: S0 + 1 })).rejects.toMatchObject({
      name: 'StoreUnavailable',
    })
  })
})

import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreUnavailable } from '../../lib/errors.js'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { consumeOnce } from '../../lib/store/replay.js'
import type { StateTable } from '../../lib/store/types.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'

const T0 = 1_700_000_000_000
let dynamo: TestDynamo
beforeAll(async () => {
  dynamo = await startDynalite()
})
afterAll(async () => {
  await dynamo.close()
})

let partition = 0
/** A fresh partition per test keeps tests independent on the shared table. */
const fresh = () => `test#${++partition}`

// The same contract, run against both implementations: DynamoDbTable must equal MemoryTable.
describe.each([
  ['MemoryTable', (clock: { ms: number }) => new MemoryTable(() => Math.floor(clock.ms / 1000))],
  [
    'DynamoDbTable',
    (clock: { ms: number }) =>
      new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now: () => clock.ms }),
  ],
] as const)('%s semantics', (_name, make) => {
  const setup = () => {
    const clock = { ms: T0 }
    return { clock, table: make(clock) as StateTable, pk: fresh() }
  }

  describe('increment', () => {
    const opts = { limit: 3, expiresAt: T0 / 1000 + 120 }

    it('creates the item at 1 with expiresAt, counts up to the limit, then refuses without changing it', async () => {
      const { table, pk } = setup()
      expect(await table.increment(pk, 'm', 'count', opts)).toBe(1)
      expect(await table.get(pk, 'm')).toEqual({
        pk,
        sk: 'm',
        expiresAt: opts.expiresAt,
        attrs: { count: 1 },
      })
      expect(await table.increment(pk, 'm', 'count', opts)).toBe(2)
      expect(await table.increment(pk, 'm', 'count', opts)).toBe(3)
      expect(await table.increment(pk, 'm', 'count', opts)).toBeUndefined()
      expect(await table.increment(pk, 'm', 'count', opts)).toBeUndefined()
      expect((await table.get(pk, 'm'))?.attrs).toEqual({ count: 3 })
    })

    it('keeps the first expiresAt and the other attributes of an existing item', async () => {
      const { table, pk } = setup()
      await table.put({ pk, sk: 'm', expiresAt: T0 / 1000 + 60, attrs: { note: 'x', count: 1 } })
      expect(await table.increment(pk, 'm', 'count', opts)).toBe(2)
      expect(await table.get(pk, 'm')).toEqual({
        pk,
        sk: 'm',
        expiresAt: T0 / 1000 + 60,
        attrs: { note: 'x', count: 2 },
      })
    })

    it('an expired item (not yet TTL-deleted) at the limit counts as absent: starts again at 1', async () => {
      const { table, clock, pk } = setup()
      await table.put({ pk, sk: 'm', expiresAt: T0 / 1000 + 10, attrs: { count: 3 } })
      clock.ms += 10_000
      expect(await table.increment(pk, 'm', 'count', opts)).toBe(1)
      expect(await table.get(pk, 'm')).toEqual({
        pk,
        sk: 'm',
        expiresAt: opts.expiresAt,
        attrs: { count: 1 },
      })
    })

    it('never loses a count under concurrency: 40 concurrent callers, limit 25, exactly 25 succeed', async () => {
      const { table, pk } = setup()
      const results = await Promise.all(
        Array.from({ length: 40 }, () => table.increment(pk, 'm', 'count', { ...opts, limit: 25 })),
      )
      expect(results.filter((r) => r !== undefined).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
        Array.from({ length: 25 }, (_, i) => i + 1),
      )
      expect((await table.get(pk, 'm'))?.attrs.count).toBe(25)
    })

    it('a limit of 0 refuses at once and writes nothing', async () => {
      const { table, pk } = setup()
      expect(await table.increment(pk, 'm', 'count', { ...opts, limit: 0 })).toBeUndefined()
      expect(await table.get(pk, 'm')).toBeUndefined()
    })
  })

  it('round-trips string, number and boolean attributes', async () => {
    const { table, pk } = setup()
    expect(await table.put({ pk, sk: 'a', attrs: { s: 'x', n: 42.5, b: false, e: '' } })).toBe(true)
    expect(await table.get(pk, 'a')).toEqual({ pk, sk: 'a', attrs: { s: 'x', n: 42.5, b: false, e: '' } })
  })

  it('put ifAbsent refuses an existing live item', async () => {
    const { table, pk } = setup()
    expect(await table.put({ pk, sk: 'a', attrs: {} }, { ifAbsent: true })).toBe(true)
    expect(await table.put({ pk, sk: 'a', attrs: { v: 1 } }, { ifAbsent: true })).toBe(false)
    expect((await table.get(pk, 'a'))?.attrs).toEqual({})
  })

  it('put ifAbsent refuses an existing item without expiry', async () => {
    const { table, clock, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: {} })
    clock.ms += 10 * 365 * 86_400_000
    expect(await table.put({ pk, sk: 'a', attrs: {} }, { ifAbsent: true })).toBe(false)
  })

  it('put ifAbsent treats an expired (not yet TTL-deleted) item as absent', async () => {
    const { table, clock, pk } = setup()
    const exp = T0 / 1000 + 60
    expect(await table.put({ pk, sk: 'a', expiresAt: exp, attrs: {} }, { ifAbsent: true })).toBe(true)
    clock.ms = (exp - 1) * 1000
    expect(await table.put({ pk, sk: 'a', expiresAt: exp, attrs: {} }, { ifAbsent: true })).toBe(false)
    clock.ms = exp * 1000
    expect(await table.put({ pk, sk: 'a', expiresAt: exp + 60, attrs: {} }, { ifAbsent: true })).toBe(true)
  })

  it('get hides an expired item', async () => {
    const { table, clock, pk } = setup()
    await table.put({ pk, sk: 'a', expiresAt: T0 / 1000 + 5, attrs: {} })
    expect(await table.get(pk, 'a')).toBeDefined()
    clock.ms += 5_000
    expect(await table.get(pk, 'a')).toBeUndefined()
  })

  it('get of an absent item is undefined', async () => {
    const { table, pk } = setup()
    expect(await table.get(pk, 'nothing')).toBeUndefined()
  })

  it('put ifMatch replaces only when every attribute matches', async () => {
    const { table, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: { v: 1, owner: 'x' } })
    expect(
      await table.put({ pk, sk: 'a', attrs: { v: 2, owner: 'x' } }, { ifMatch: { v: 1, owner: 'x' } }),
    ).toBe(true)
    expect(await table.put({ pk, sk: 'a', attrs: { v: 3 } }, { ifMatch: { v: 1 } })).toBe(false)
    expect((await table.get(pk, 'a'))?.attrs).toEqual({ v: 2, owner: 'x' })
  })

  it('put ifMatch is type-strict (number 1 is not string "1")', async () => {
    const { table, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: { v: 1 } })
    expect(await table.put({ pk, sk: 'a', attrs: {} }, { ifMatch: { v: '1' } })).toBe(false)
  })

  it('put ifMatch fails on an absent item', async () => {
    const { table, pk } = setup()
    expect(await table.put({ pk, sk: 'a', attrs: {} }, { ifMatch: {} })).toBe(false)
    expect(await table.get(pk, 'a')).toBeUndefined()
  })

  it('put ifMatch fails on an expired item', async () => {
    const { table, clock, pk } = setup()
    await table.put({ pk, sk: 'a', expiresAt: T0 / 1000 + 1, attrs: { v: 1 } })
    clock.ms += 1_000
    expect(await table.put({ pk, sk: 'a', attrs: { v: 2 } }, { ifMatch: { v: 1 } })).toBe(false)
  })

  it('put ifMatch fails when the attribute is missing', async () => {
    const { table, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: {} })
    expect(await table.put({ pk, sk: 'a', attrs: {} }, { ifMatch: { v: 1 } })).toBe(false)
  })

  it('delete removes a live item once', async () => {
    const { table, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: { v: 1 } })
    expect(await table.delete(pk, 'a', { ifMatch: { v: 1 } })).toBe(true)
    expect(await table.get(pk, 'a')).toBeUndefined()
    expect(await table.delete(pk, 'a')).toBe(false)
  })

  it('delete ifMatch refuses a mismatch and keeps the item', async () => {
    const { table, pk } = setup()
    await table.put({ pk, sk: 'a', attrs: { v: 1 } })
    expect(await table.delete(pk, 'a', { ifMatch: { v: 2 } })).toBe(false)
    expect(await table.get(pk, 'a')).toBeDefined()
  })

  it('delete ifMatch refuses an absent item', async () => {
    const { table, pk } = setup()
    expect(await table.delete(pk, 'a', { ifMatch: {} })).toBe(false)
  })

  it('query returns unexpired items of one partition in sk order', async () => {
    const { table, clock, pk } = setup()
    const other = fresh()
    await table.put({ pk, sk: 'b', attrs: {} })
    await table.put({ pk, sk: 'a', attrs: {} })
    await table.put({ pk, sk: 'c', expiresAt: T0 / 1000 + 1, attrs: {} })
    await table.put({ pk: other, sk: 'z', attrs: {} })
    expect((await table.query(pk)).map((i) => i.sk)).toEqual(['a', 'b', 'c'])
    clock.ms += 1_000
    expect((await table.query(pk)).map((i) => i.sk)).toEqual(['a', 'b'])
    expect(await table.query(fresh())).toEqual([])
  })

  it('consumeOnce: 50 parallel consumers of one key => exactly one wins', async () => {
    const { table } = setup()
    const key = `jti-${partition}`
    const results = await Promise.all(
      Array.from({ length: 50 }, () => consumeOnce(table, key, T0 / 1000 + 300)),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
  })
})

describe('DynamoDbTable on dynalite', () => {
  const table = (now = () => T0) => new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now })

  it('writes pk, sk, expiresAt (N, the TTL attribute) and attrs as top-level attributes', async () => {
    const pk = fresh()
    await table().put({ pk, sk: 's', expiresAt: 1_700_000_300, attrs: { kind: 'jti', n: 7, b: true } })
    const raw = await dynamo.client.send(
      new GetItemCommand({
        TableName: dynamo.table,
        Key: { pk: { S: pk }, sk: { S: 's' } },
        ConsistentRead: true,
      }),
    )
    expect(raw.Item).toEqual({
      pk: { S: pk },
      sk: { S: 's' },
      expiresAt: { N: '1700000300' },
      kind: { S: 'jti' },
      n: { N: '7' },
      b: { BOOL: true },
    })
  })

  it('replay is shared: a second broker instance (own client) is refused', async () => {
    const other = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'other' },
    })
    try {
      const a = table()
      const b = new DynamoDbTable({ table: dynamo.table, client: other, now: () => T0 })
      const key = `shared-${fresh()}`
      expect(await consumeOnce(a, key, T0 / 1000 + 60)).toBe(true)
      expect(await consumeOnce(b, key, T0 / 1000 + 60)).toBe(false)
      expect(await consumeOnce(a, key, T0 / 1000 + 60)).toBe(false)
    } finally {
      other.destroy()
    }
  })

  it('pages through a partition larger than one Query page (1 MB)', async () => {
    const pk = fresh()
    const t = table()
    const blob = 'x'.repeat(8_000)
    const n = 140
    for (let i = 0; i < n; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          t.put({ pk, sk: String(i + j).padStart(4, '0'), attrs: { blob } }),
        ),
      )
    }
    const items = await t.query(pk)
    expect(items).toHaveLength(n)
    expect(items[n - 1]?.sk).toBe(String(n - 1).padStart(4, '0'))
  })

  it('refuses reserved attribute names', async () => {
    await expect(table().put({ pk: fresh(), sk: 'a', attrs: { expiresAt: 1 } })).rejects.toThrow(/reserved/)
    await expect(table().put({ pk: fresh(), sk: 'a', attrs: { pk: 'x' } })).rejects.toThrow(/reserved/)
  })

  it('refuses non-finite numbers', async () => {
    await expect(table().put({ pk: fresh(), sk: 'a', attrs: { n: Number.NaN } })).rejects.toThrow(/finite/)
  })

  it('an item of unexpected shape read back is StoreUnavailable (validated with zod)', async () => {
    const pk = fresh()
    await dynamo.client.send(
      new PutItemCommand({
        TableName: dynamo.table,
        Item: { pk: { S: pk }, sk: { S: 'a' }, list: { L: [] } },
      }),
    )
    await expect(table().get(pk, 'a')).rejects.toBeInstanceOf(StoreUnavailable)
    await dynamo.client.send(
      new PutItemCommand({
        TableName: dynamo.table,
        Item: { pk: { S: pk }, sk: { S: 'b' }, expiresAt: { S: 'soon' } },
      }),
    )
    await expect(table().query(pk)).rejects.toBeInstanceOf(StoreUnavailable)
  })

  it('a missing table is StoreUnavailable, never a false or a generic error', async () => {
    const t = new DynamoDbTable({ table: 'no-such-table', client: dynamo.client })
    await expect(t.get('a', 'b')).rejects.toBeInstanceOf(StoreUnavailable)
    await expect(t.put({ pk: 'a', sk: 'b', attrs: {} }, { ifAbsent: true })).rejects.toBeInstanceOf(
      StoreUnavailable,
    )
  })

  it('outage: every operation throws StoreUnavailable; after restart the same object works again', async () => {
    const t = table()
    const pk = fresh()
    await t.put({ pk, sk: 'a', attrs: { v: 1 } })
    await dynamo.stop()
    try {
      await expect(consumeOnce(t, `outage-${pk}`, T0 / 1000 + 60)).rejects.toBeInstanceOf(StoreUnavailable)
      await expect(t.get(pk, 'a')).rejects.toBeInstanceOf(StoreUnavailable)
      await expect(t.query(pk)).rejects.toBeInstanceOf(StoreUnavailable)
      await expect(t.delete(pk, 'a')).rejects.toBeInstanceOf(StoreUnavailable)
      await expect(t.put({ pk, sk: 'b', attrs: {} }, { ifMatch: { v: 1 } })).rejects.toBeInstanceOf(
        StoreUnavailable,
      )
    } finally {
      await dynamo.restart()
    }
    expect((await t.get(pk, 'a'))?.attrs).toEqual({ v: 1 })
    expect(await consumeOnce(t, `outage-${pk}`, T0 / 1000 + 60)).toBe(true)
  })
})

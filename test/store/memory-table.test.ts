import { describe, expect, it } from 'vitest'
import { StoreUnavailable } from '../../lib/errors.js'
import { DEFAULT_KIND_SHARES, MemoryTable } from '../../lib/store/memory-table.js'
import { consumeOnce } from '../../lib/store/replay.js'
import { RevocationList } from '../../lib/store/revocations.js'

describe('MemoryTable bounds', () => {
  it('counts items exactly across puts, overwrites, deletes and sweeps', async () => {
    let now = 1000
    const t = new MemoryTable(() => now)
    await t.put({ pk: 'a', sk: '1', expiresAt: 1010, attrs: {} })
    await t.put({ pk: 'a', sk: '1', expiresAt: 1010, attrs: { x: 1 } })
    await t.put({ pk: 'b', sk: '1', attrs: {} })
    expect(t.size).toBe(2)
    expect(await t.delete('b', '1')).toBe(true)
    expect(await t.delete('b', '1')).toBe(false)
    expect(t.size).toBe(1)
    now = 2000
    expect(await t.get('a', '1')).toBeUndefined()
  })

  it('refuses new items at capacity, after sweeping expired ones first', async () => {
    let now = 1000
    const t = new MemoryTable(() => now, 3)
    for (const sk of ['1', '2', '3']) await t.put({ pk: `p${sk}`, sk, expiresAt: 1100, attrs: {} })
    await expect(t.put({ pk: 'p4', sk: '4', attrs: {} })).rejects.toMatchObject({
      status: 503,
      detail: expect.stringMatching(/full/),
    })
    // overwriting an existing item is not growth
    await expect(t.put({ pk: 'p1', sk: '1', expiresAt: 1100, attrs: { v: 2 } })).resolves.toBe(true)
    expect(t.size).toBe(3)
    now = 1200 // everything expired: the next write sweeps and succeeds
    await expect(t.put({ pk: 'p4', sk: '4', attrs: {} })).resolves.toBe(true)
    expect(t.size).toBe(1)
    expect(await t.get('p4', '4')).toBeDefined()
  })

  it('a failed condition never counts', async () => {
    const t = new MemoryTable(() => 1000)
    expect(await t.put({ pk: 'r', sk: '-', attrs: {} }, { ifAbsent: true })).toBe(true)
    expect(await t.put({ pk: 'r', sk: '-', attrs: {} }, { ifAbsent: true })).toBe(false)
    expect(t.size).toBe(1)
  })
})

describe('MemoryTable partitions (one bare item, or a map once a second sort key arrives)', () => {
  it('grows a partition from one item to several and back, query always complete and sorted', async () => {
    const t = new MemoryTable(() => 1000)
    await t.put({ pk: 'p', sk: 'b', attrs: { v: 1 } })
    expect(await t.query('p')).toMatchObject([{ sk: 'b' }])
    await t.put({ pk: 'p', sk: 'a', attrs: { v: 2 } })
    await t.put({ pk: 'p', sk: 'c', expiresAt: 999, attrs: {} })
    expect((await t.query('p')).map((i) => i.sk)).toEqual(['a', 'b'])
    expect(t.size).toBe(3)
    expect(await t.delete('p', 'a')).toBe(true)
    expect(await t.delete('p', 'c')).toBe(false) // expired: not a live item
    expect(await t.get('p', 'b')).toMatchObject({ attrs: { v: 1 } })
    expect(await t.delete('p', 'b')).toBe(true)
    expect(await t.query('p')).toEqual([])
    expect(t.size).toBe(0)
  })

  it('a single-item partition never answers for another sort key', async () => {
    const t = new MemoryTable(() => 1000)
    await t.put({ pk: 'p', sk: 'x', attrs: {} })
    expect(await t.get('p', 'y')).toBeUndefined()
    expect(await t.delete('p', 'y')).toBe(false)
    expect(await t.put({ pk: 'p', sk: 'y', attrs: {} }, { ifAbsent: true })).toBe(true)
    expect(await t.put({ pk: 'p', sk: 'x', attrs: {} }, { ifAbsent: true })).toBe(false)
  })

  it('ifMatch compares current attributes; a stored item is a copy', async () => {
    const t = new MemoryTable(() => 1000)
    const attrs = { n: 1 }
    await t.put({ pk: 'p', sk: 's', attrs })
    attrs.n = 99
    expect(await t.put({ pk: 'p', sk: 's', attrs: { n: 2 } }, { ifMatch: { n: 99 } })).toBe(false)
    expect(await t.put({ pk: 'p', sk: 's', attrs: { n: 2 } }, { ifMatch: { n: 1 } })).toBe(true)
    expect(await t.delete('p', 's', { ifMatch: { n: 1 } })).toBe(false)
    expect(await t.delete('p', 's', { ifMatch: { n: 2 } })).toBe(true)
  })
})

describe('MemoryTable budgets: single-use keys cannot crowd out revocations', () => {
  const MAX = 1000
  const replayBudget = Math.floor(MAX * (DEFAULT_KIND_SHARES.replay ?? 0))

  it('a full replay cache fails closed, while revocations and other kinds are still written', async () => {
    const now = 1000
    const t = new MemoryTable(() => now, MAX)
    for (let i = 0; i < replayBudget; i++) expect(await consumeOnce(t, `k${i}`, 2000)).toBe(true)
    await expect(consumeOnce(t, 'one-more', 2000)).rejects.toBeInstanceOf(StoreUnavailable)
    // The replay cache is at its budget; a revocation and an instance binding still go in.
    const revocations = new RevocationList(t, { now: () => now * 1000 })
    await revocations.revoke({ policy: 'deploy-app' }, 'admin')
    expect(await revocations.blocksIssuance({ provider: 'p', sub: 's', policy: 'deploy-app' })).toBe(true)
    expect(await t.put({ pk: 'binding#i-1', sk: '-', attrs: { v: 1 } })).toBe(true)
    // A nonce has its own share too.
    expect(await t.put({ pk: 'nonce#abc', sk: '-', expiresAt: 2000, attrs: {} }, { ifAbsent: true })).toBe(
      true,
    )
  })

  it('once replay keys expire, the cache takes new ones again', async () => {
    let now = 1000
    const t = new MemoryTable(() => now, MAX)
    for (let i = 0; i < replayBudget; i++) await consumeOnce(t, `k${i}`, 1100)
    await expect(consumeOnce(t, 'late', 1200)).rejects.toBeInstanceOf(StoreUnavailable)
    now = 1100
    expect(await consumeOnce(t, 'late', 1200)).toBe(true)
    expect(t.size).toBeLessThan(replayBudget)
  })

  it('the total cap still holds across kinds', async () => {
    const t = new MemoryTable(() => 1000, 10, { replay: 0.5 })
    for (let i = 0; i < 10; i++) await t.put({ pk: `other#${i}`, sk: '-', attrs: {} })
    await expect(t.put({ pk: 'other#x', sk: '-', attrs: {} })).rejects.toBeInstanceOf(StoreUnavailable)
    await expect(consumeOnce(t, 'r', 2000)).rejects.toBeInstanceOf(StoreUnavailable)
  })
})

describe('MemoryTable sweep: bounded, never a scan of live items', () => {
  it('20,000 refused writes against 100,000 live items each cost a constant, not a scan', async () => {
    // With a full scan per refusal this is 2e9 item visits and the test never completes.
    const t = new MemoryTable(() => 1000, 100_000, {})
    for (let i = 0; i < 100_000; i++) await t.put({ pk: `live#${i}`, sk: '-', expiresAt: 5000, attrs: {} })
    let refused = 0
    for (let i = 0; i < 20_000; i++) {
      await t.put({ pk: `new#${i}`, sk: '-', attrs: {} }).catch((err: unknown) => {
        expect(err).toBeInstanceOf(StoreUnavailable)
        refused++
      })
    }
    expect(refused).toBe(20_000)
    expect(t.size).toBe(100_000)
  })

  it('a sweep removes expired items only, earliest first, and a bounded number per write', async () => {
    let now = 1000
    const t = new MemoryTable(() => now, 30_000, {})
    for (let i = 0; i < 20_000; i++)
      await t.put({ pk: `old#${i}`, sk: '-', expiresAt: 1001 + (i % 3), attrs: {} })
    for (let i = 0; i < 10_000; i++) await t.put({ pk: `keep#${i}`, sk: '-', expiresAt: 9000, attrs: {} })
    now = 5000
    // Full: one refused-then-admitted write sweeps one batch, not all 20,000 expired items.
    await t.put({ pk: 'new#1', sk: '-', attrs: {} })
    const afterOne = t.size
    expect(afterOne).toBeGreaterThan(10_001)
    expect(afterOne).toBeLessThan(30_000)
    for (let i = 0; i < 10_000; i++) expect(await t.get(`keep#${i}`, '-')).toBeDefined()
  })

  it('an item rewritten with a new expiry is swept by its new expiry only', async () => {
    let now = 1000
    const t = new MemoryTable(() => now, 2, {})
    await t.put({ pk: 'a', sk: '-', expiresAt: 1001, attrs: {} })
    await t.put({ pk: 'a', sk: '-', expiresAt: 9000, attrs: { v: 2 } })
    await t.put({ pk: 'b', sk: '-', attrs: {} })
    now = 2000
    // Full, and 'a' is no longer due: nothing can be swept.
    await expect(t.put({ pk: 'c', sk: '-', attrs: {} })).rejects.toBeInstanceOf(StoreUnavailable)
    expect(await t.get('a', '-')).toMatchObject({ attrs: { v: 2 } })
  })
})

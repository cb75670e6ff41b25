import { describe, expect, it } from 'vitest'
import { MemoryTable } from '../../lib/store/memory-table.js'

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

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
    await expect(t.put({ pk: 'p4', sk: '4', attrs: {} })).rejects.toThrow(/full/)
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

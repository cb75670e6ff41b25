import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StoreUnavailable } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { ReplayGuard } from '../../lib/store/replay-guard.js'
import type { StateTable } from '../../lib/store/types.js'

const T0 = 1_800_000_000_000

function clock(start = T0) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

function counted(table: StateTable): { table: StateTable; writes: () => number } {
  let writes = 0
  const put = table.put.bind(table)
  table.put = (item, condition) => {
    writes++
    return put(item, condition)
  }
  return { table, writes: () => writes }
}

const exp = (c: { now: () => number }, s = 600) => Math.floor(c.now() / 1000) + s

describe('ReplayGuard', () => {
  it('the first consume wins; every later one is refused without a store write', async () => {
    const c = clock()
    const { table, writes } = counted(new MemoryTable(() => Math.floor(c.now() / 1000)))
    const guard = new ReplayGuard(table, { now: c.now })
    expect(guard.mayOverlap('k')).toBe(true)
    expect(await guard.consume('k', exp(c))).toBe(true)
    expect(guard.mayOverlap('k')).toBe(false)
    expect(await guard.consume('k', exp(c))).toBe(false)
    expect(await guard.consume('k', exp(c))).toBe(false)
    expect(writes()).toBe(1)
  })

  it('a key the store refuses is remembered: the next consume makes no write', async () => {
    const c = clock()
    const { table, writes } = counted(new MemoryTable(() => Math.floor(c.now() / 1000)))
    await new ReplayGuard(table, { now: c.now }).consume('k', exp(c))
    const other = new ReplayGuard(table, { now: c.now })
    expect(other.mayOverlap('k')).toBe(true)
    expect(await other.consume('k', exp(c))).toBe(false)
    expect(other.mayOverlap('k')).toBe(false)
    expect(await other.consume('k', exp(c))).toBe(false)
    expect(writes()).toBe(2)
  })

  it('concurrent consumes of one key share one write and only its starter wins', async () => {
    const c = clock()
    const { table, writes } = counted(new MemoryTable(() => Math.floor(c.now() / 1000)))
    const guard = new ReplayGuard(table, { now: c.now })
    const first = guard.consume('k', exp(c))
    expect(guard.mayOverlap('k')).toBe(false)
    const rest = [guard.consume('k', exp(c)), guard.consume('k', exp(c))]
    expect(await Promise.all([first, ...rest])).toEqual([true, false, false])
    expect(writes()).toBe(1)
  })

  it('with `after`, the key is taken at once but written only once `after` settles', async () => {
    const c = clock()
    const { table, writes } = counted(new MemoryTable(() => Math.floor(c.now() / 1000)))
    const guard = new ReplayGuard(table, { now: c.now })
    let release: () => void = () => {}
    const after = new Promise<void>((r) => {
      release = r
    })
    const first = guard.consume('k', exp(c), after)
    expect(guard.mayOverlap('k')).toBe(false)
    const second = guard.consume('k', exp(c))
    await Promise.resolve()
    expect(writes()).toBe(0)
    release()
    expect(await Promise.all([first, second])).toEqual([true, false])
    expect(writes()).toBe(1)
  })

  it('a store failure rejects every presentation sharing the write and remembers nothing', async () => {
    const c = clock()
    const table = new MemoryTable()
    table.put = () => Promise.reject(new StoreUnavailable('down'))
    const guard = new ReplayGuard(table, { now: c.now })
    const both = [guard.consume('k', exp(c)), guard.consume('k', exp(c))]
    for (const p of both) await expect(p).rejects.toBeInstanceOf(StoreUnavailable)
    expect(guard.size).toBe(0)
  })

  it('after a store failure, overlap pauses for pauseMs, then resumes', async () => {
    const c = clock()
    const table = new MemoryTable(() => Math.floor(c.now() / 1000))
    const put = table.put.bind(table)
    let down = true
    table.put = (item, condition) =>
      down ? Promise.reject(new StoreUnavailable('down')) : put(item, condition)
    const guard = new ReplayGuard(table, { now: c.now, pauseMs: 1000 })
    await expect(guard.consume('a', exp(c))).rejects.toBeInstanceOf(StoreUnavailable)
    expect(guard.mayOverlap('b')).toBe(false)
    c.advance(999)
    expect(guard.mayOverlap('b')).toBe(false)
    c.advance(1)
    expect(guard.mayOverlap('b')).toBe(true)
    down = false
    // The failed key was never consumed: it can still be used once.
    expect(await guard.consume('a', exp(c))).toBe(true)
  })

  it('a remembered key is forgotten at its expiresAt, as the store forgets it', async () => {
    const c = clock()
    const guard = new ReplayGuard(new MemoryTable(() => Math.floor(c.now() / 1000)), { now: c.now })
    await guard.consume('k', exp(c, 10))
    c.advance(9_999)
    expect(guard.mayOverlap('k')).toBe(false)
    c.advance(1)
    expect(guard.mayOverlap('k')).toBe(true)
  })

  it('the least recently used key is evicted beyond capacity; the store still refuses it', async () => {
    const c = clock()
    const { table, writes } = counted(new MemoryTable(() => Math.floor(c.now() / 1000)))
    const guard = new ReplayGuard(table, { now: c.now, capacity: 2 })
    await guard.consume('a', exp(c))
    await guard.consume('b', exp(c))
    expect(guard.mayOverlap('a')).toBe(false) // touches a: b is now the oldest
    await guard.consume('c', exp(c))
    expect(guard.size).toBe(2)
    expect(guard.mayOverlap('b')).toBe(true)
    expect(guard.mayOverlap('a')).toBe(false)
    // Evicted from memory, not from the store: single use still holds.
    expect(await guard.consume('b', exp(c))).toBe(false)
    expect(writes()).toBe(4)
  })

  it('property: never more than capacity keys held; the key just consumed is always known', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'), { maxLength: 60 }),
        async (capacity, keys) => {
          const c = clock()
          const table = new MemoryTable(() => Math.floor(c.now() / 1000))
          const guard = new ReplayGuard(table, { now: c.now, capacity })
          const used = new Set<string>()
          for (const k of keys) {
            // Single use whatever the memory holds: the first consume of a key wins, no other does.
            expect(await guard.consume(k, exp(c))).toBe(!used.has(k))
            used.add(k)
            expect(guard.size).toBeLessThanOrEqual(capacity)
            expect(guard.mayOverlap(k)).toBe(false)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

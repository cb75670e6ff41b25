import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ExpiryIndex } from '../../lib/store/expiry-index.js'

type Op =
  | { op: 'add'; id: number; second: number }
  | { op: 'delete'; id: number }
  | { op: 'take'; now: number; limit: number }

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('add' as const), id: fc.nat(30), second: fc.nat(50) }),
    fc.record({ op: fc.constant('delete' as const), id: fc.nat(30) }),
    fc.record({ op: fc.constant('take' as const), now: fc.nat(60), limit: fc.integer({ min: 0, max: 8 }) }),
  ),
  { maxLength: 200 },
)

describe('ExpiryIndex', () => {
  it('property: takes only filed items due by now, at most the limit, earliest first, each once', () => {
    fc.assert(
      fc.property(ops, (list: Op[]) => {
        const index = new ExpiryIndex<{ id: number }>()
        // The model: id -> (object, second) for items currently filed.
        const filed = new Map<number, { item: { id: number }; second: number }>()
        for (const step of list) {
          if (step.op === 'add') {
            const old = filed.get(step.id)
            if (old) index.delete(old.second, old.item)
            const item = { id: step.id }
            index.add(step.second, item)
            filed.set(step.id, { item, second: step.second })
          } else if (step.op === 'delete') {
            const old = filed.get(step.id)
            if (old) index.delete(old.second, old.item)
            filed.delete(step.id)
          } else {
            const due = [...filed.values()].filter((f) => f.second <= step.now)
            const taken = index.takeExpired(step.now, step.limit)
            expect(taken.length).toBe(Math.min(step.limit, due.length))
            const seconds = taken.map((t) => filed.get(t.id)?.second as number)
            expect(seconds).toEqual([...seconds].sort((a, b) => a - b))
            // Nothing taken is later than anything left due.
            const left = due.filter((f) => !taken.includes(f.item)).map((f) => f.second)
            if (left.length > 0 && seconds.length > 0)
              expect(Math.max(...seconds)).toBeLessThanOrEqual(Math.min(...left))
            for (const t of taken) {
              expect(filed.get(t.id)?.item).toBe(t)
              filed.delete(t.id)
            }
          }
        }
      }),
    )
  })

  it('takes nothing when nothing is due, and nothing with a zero limit', () => {
    const index = new ExpiryIndex<string>()
    index.add(100, 'a')
    expect(index.takeExpired(99, 10)).toEqual([])
    expect(index.takeExpired(100, 0)).toEqual([])
    expect(index.takeExpired(100, 10)).toEqual(['a'])
    expect(index.takeExpired(1000, 10)).toEqual([])
  })

  it('never returns a deleted item', () => {
    const index = new ExpiryIndex<string>()
    index.add(5, 'a')
    index.add(5, 'b')
    index.delete(5, 'a')
    index.delete(6, 'b') // wrong second: no effect
    expect(index.takeExpired(10, 10)).toEqual(['b'])
  })
})

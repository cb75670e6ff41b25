import type { AttrValue, StateItem, StateTable, WriteCondition } from './types.js'

/**
 * In-process StateTable with the same semantics as the DynamoDB one (conditional writes,
 * expired = absent). State is per process: fine for `tessera serve` and tests, not for Lambda.
 */
export class MemoryTable implements StateTable {
  readonly #items = new Map<string, Map<string, StateItem>>()
  #writes = 0
  /** Items held (expired ones included until swept); kept as a counter so a write stays O(1). */
  #count = 0

  constructor(
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    /** Upper bound on live items; expired ones are swept first, then the write is refused. */
    private readonly maxItems = 1_000_000,
  ) {}

  async put(item: StateItem, condition?: WriteCondition): Promise<boolean> {
    const current = this.#live(item.pk, item.sk)
    if (condition && !holds(current, condition)) return false
    const isNew = !this.#items.get(item.pk)?.has(item.sk)
    if (isNew && this.#count >= this.maxItems) {
      this.#sweep()
      if (this.#count >= this.maxItems) throw new Error('memory store is full')
    }
    let partition = this.#items.get(item.pk)
    if (!partition) {
      partition = new Map()
      this.#items.set(item.pk, partition)
    }
    if (!partition.has(item.sk)) this.#count++
    partition.set(item.sk, { ...item, attrs: { ...item.attrs } })
    if (++this.#writes % 4096 === 0) this.#sweep()
    return true
  }

  async get(pk: string, sk: string): Promise<StateItem | undefined> {
    return this.#live(pk, sk)
  }

  async delete(
    pk: string,
    sk: string,
    condition?: { ifMatch: Readonly<Record<string, AttrValue>> },
  ): Promise<boolean> {
    const current = this.#live(pk, sk)
    if (condition && !holds(current, condition)) return false
    const deleted = this.#items.get(pk)?.delete(sk) ?? false
    if (deleted) this.#count--
    return deleted
  }

  async query(pk: string): Promise<StateItem[]> {
    const partition = this.#items.get(pk)
    if (!partition) return []
    const now = this.nowSeconds()
    return [...partition.values()]
      .filter((i) => i.expiresAt === undefined || i.expiresAt > now)
      .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0))
  }

  /** Number of stored items, expired ones included until swept. */
  get size(): number {
    return this.#count
  }

  #live(pk: string, sk: string): StateItem | undefined {
    const item = this.#items.get(pk)?.get(sk)
    if (!item) return undefined
    if (item.expiresAt !== undefined && item.expiresAt <= this.nowSeconds()) return undefined
    return item
  }

  #sweep(): void {
    const now = this.nowSeconds()
    for (const [pk, partition] of this.#items) {
      for (const [sk, item] of partition) {
        if (item.expiresAt !== undefined && item.expiresAt <= now && partition.delete(sk)) this.#count--
      }
      if (partition.size === 0) this.#items.delete(pk)
    }
  }
}

function holds(current: StateItem | undefined, condition: WriteCondition): boolean {
  if ('ifAbsent' in condition) return current === undefined
  if (!current) return false
  return Object.entries(condition.ifMatch).every(([k, v]) => current.attrs[k] === v)
}

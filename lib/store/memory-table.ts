import { StoreUnavailable } from '../errors.js'
import type { AttrValue, IncrementOptions, MergeUpdate, StateItem, StateTable, WriteCondition } from './types.js'

/** A partition: most (replay keys, nonces) hold one item, stored bare to save a Map per entry. */
type Partition = StateItem | Map<string, StateItem>
const NO_ATTRS: Readonly<Record<string, AttrValue>> = Object.freeze({})

/**
 * In-process StateTable with the same semantics as the DynamoDB one (conditional writes,
 * expired = absent). State is per process: fine for `tessera serve` and tests, not for Lambda.
 */
export class MemoryTable implements StateTable {
  readonly #items = new Map<string, Partition>()
  #writes = 0
  /** Items held (expired ones included until swept); kept as a counter so a write stays O(1). */
  #count = 0

  constructor(
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    /** Upper bound on live items; expired ones are swept first, then the write is refused. */
    private readonly maxItems = 1_000_000,
  ) {}

  async put(item: StateItem, condition?: WriteCondition): Promise<boolean> {
    const existing = this.#find(item.pk, item.sk)
    if (condition && (this.#expired(item) || !holds(this.#alive(existing), condition))) return false
    if (!existing && this.#count >= this.maxItems) {
      this.#sweep()
      if (this.#count >= this.maxItems) throw new StoreUnavailable('memory store is full')
    }
    const attrs = Object.keys(item.attrs).length === 0 ? NO_ATTRS : { ...item.attrs }
    this.#store({ pk: item.pk, sk: item.sk, expiresAt: item.expiresAt, attrs })
    if (++this.#writes % 4096 === 0) this.#sweep()
    return true
  }

  async get(pk: string, sk: string): Promise<StateItem | undefined> {
    return this.#alive(this.#find(pk, sk))
  }

  async delete(
    pk: string,
    sk: string,
    condition?: { ifMatch: Readonly<Record<string, AttrValue>> },
  ): Promise<boolean> {
    const current = this.#alive(this.#find(pk, sk))
    if (condition && !holds(current, condition)) return false
    // Like DynamoDB's answer to the caller: true only when a live item went away.
    return this.#remove(pk, sk) && current !== undefined
  }

  async query(pk: string): Promise<StateItem[]> {
    const partition = this.#items.get(pk)
    if (!partition) return []
    const items = partition instanceof Map ? [...partition.values()] : [partition]
    return items
      .filter((i) => this.#alive(i) !== undefined)
      .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0))
  }

  async increment(pk: string, sk: string, attr: string, opts: IncrementOptions): Promise<number | undefined> {
    // No await between the read and the write: atomic within this process.
    const current = this.#alive(this.#find(pk, sk))
    const count = current ? Number(current.attrs[attr] ?? 0) : 0
    if (count >= opts.limit) return undefined
    await this.put({
      pk,
      sk,
      expiresAt: current ? current.expiresAt : opts.expiresAt,
      attrs: { ...current?.attrs, [attr]: count + 1 },
    })
    return count + 1
  }

  async merge(pk: string, sk: string, update: MergeUpdate): Promise<void> {
    const current = this.#alive(this.#find(pk, sk))
    const attrs: Record<string, AttrValue> = { ...update.setOnce, ...current?.attrs, ...update.set }
    for (const [name, n] of Object.entries(update.add ?? {}))
      attrs[name] = Number(current?.attrs[name] ?? 0) + n
    await this.put({ pk, sk, expiresAt: update.expiresAt, attrs })
  }

  /** Number of stored items, expired ones included until swept. */
  get size(): number {
    return this.#count
  }

  #alive(item: StateItem | undefined): StateItem | undefined {
    if (!item || this.#expired(item)) return undefined
    return item
  }

  /** The one expiry rule, shared with DynamoDbTable: absent from the `expiresAt` second on. */
  #expired(item: StateItem): boolean {
    return item.expiresAt !== undefined && item.expiresAt <= this.nowSeconds()
  }

  #find(pk: string, sk: string): StateItem | undefined {
    const partition = this.#items.get(pk)
    if (partition instanceof Map) return partition.get(sk)
    return partition?.sk === sk ? partition : undefined
  }

  #store(item: StateItem): void {
    const partition = this.#items.get(item.pk)
    if (partition === undefined) {
      this.#items.set(item.pk, item)
      this.#count++
    } else if (partition instanceof Map) {
      if (!partition.has(item.sk)) this.#count++
      partition.set(item.sk, item)
    } else if (partition.sk === item.sk) {
      this.#items.set(item.pk, item)
    } else {
      this.#items.set(
        item.pk,
        new Map([
          [partition.sk, partition],
          [item.sk, item],
        ]),
      )
      this.#count++
    }
  }

  #remove(pk: string, sk: string): boolean {
    const partition = this.#items.get(pk)
    if (partition instanceof Map) {
      if (!partition.delete(sk)) return false
      if (partition.size === 0) this.#items.delete(pk)
    } else if (partition?.sk === sk) {
      this.#items.delete(pk)
    } else return false
    this.#count--
    return true
  }

  #sweep(): void {
    const now = this.nowSeconds()
    const expired = (i: StateItem) => i.expiresAt !== undefined && i.expiresAt <= now
    for (const [pk, partition] of this.#items) {
      if (partition instanceof Map) {
        for (const [sk, item] of partition) if (expired(item)) this.#remove(pk, sk)
      } else if (expired(partition)) this.#remove(pk, partition.sk)
    }
  }
}

function holds(current: StateItem | undefined, condition: WriteCondition): boolean {
  if ('ifAbsent' in condition) return current === undefined
  if (!current) return false
  return Object.entries(condition.ifMatch).every(([k, v]) => current.attrs[k] === v)
}

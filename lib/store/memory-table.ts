import { StoreUnavailable } from '../errors.js'
import { ExpiryIndex } from './expiry-index.js'
import type {
  AttrValue,
  IncrementOptions,
  MergeUpdate,
  StateItem,
  StateTable,
  WriteCondition,
} from './types.js'

/** A partition: most (replay keys, nonces) hold one item, stored bare to save a Map per entry. */
type Partition = StateItem | Map<string, StateItem>
const NO_ATTRS: Readonly<Record<string, AttrValue>> = Object.freeze({})

/**
 * Share of the capacity each kind of key (the `pk` up to its first `#`) may hold at most. These are
 * the kinds any caller a trusted issuer vouches for (or anyone, for nonces) can make Tessera write;
 * together they leave 15 % of the store to everything else (revocations, instance bindings, admin
 * state), so a flood of single-use keys can never stop a revocation.
 */
export const DEFAULT_KIND_SHARES: Readonly<Record<string, number>> = {
  replay: 0.7,
  nonce: 0.1,
  'nonce-rate': 0.05,
}
/** Expired items removed per sweep: a sweep's cost is bounded whatever the store holds. */
const SWEEP_BATCH = 8192
/** A periodic sweep runs every this many writes; with SWEEP_BATCH twice as large it keeps up. */
const SWEEP_EVERY = 4096

/**
 * In-process StateTable with the same semantics as the DynamoDB one (conditional writes,
 * expired = absent). State is per process: fine for `tessera serve` and tests, not for Lambda.
 * Capacity is bounded in total and per key kind ({@link DEFAULT_KIND_SHARES}); expired items are
 * found through an expiry index, so no write ever scans the store.
 */
export class MemoryTable implements StateTable {
  readonly #items = new Map<string, Partition>()
  readonly #expiry = new ExpiryIndex<StateItem>()
  readonly #perKind = new Map<string, number>()
  readonly #budgets: ReadonlyMap<string, number>
  #writes = 0
  /** Items held (expired ones included until swept); kept as a counter so a write stays O(1). */
  #count = 0

  constructor(
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    /** Upper bound on live items; expired ones are swept first, then the write is refused. */
    private readonly maxItems = 1_000_000,
    shares: Readonly<Record<string, number>> = DEFAULT_KIND_SHARES,
  ) {
    this.#budgets = new Map(
      Object.entries(shares).map(([kind, share]) => [kind, Math.floor(maxItems * share)]),
    )
  }

  async put(item: StateItem, condition?: WriteCondition): Promise<boolean> {
    const existing = this.#find(item.pk, item.sk)
    if (condition && (this.#expired(item) || !holds(this.#alive(existing), condition))) return false
    if (!existing) this.#admit(item.pk)
    const attrs = Object.keys(item.attrs).length === 0 ? NO_ATTRS : { ...item.attrs }
    this.#store({ pk: item.pk, sk: item.sk, expiresAt: item.expiresAt, attrs })
    if (++this.#writes % SWEEP_EVERY === 0) this.#sweep()
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

  /** Makes room for one new item of `pk`'s kind, or refuses (StoreUnavailable, a 503) when full. */
  #admit(pk: string): void {
    const kind = kindOf(pk)
    const budget = this.#budgets.get(kind)
    const full = () =>
      this.#count >= this.maxItems || (budget !== undefined && (this.#perKind.get(kind) ?? 0) >= budget)
    if (!full()) return
    this.#sweep()
    if (full()) throw new StoreUnavailable(`memory store is full (${kind || 'items'})`)
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
    let replaced: StateItem | undefined
    if (partition === undefined) {
      this.#items.set(item.pk, item)
    } else if (partition instanceof Map) {
      replaced = partition.get(item.sk)
      partition.set(item.sk, item)
    } else if (partition.sk === item.sk) {
      replaced = partition
      this.#items.set(item.pk, item)
    } else {
      this.#items.set(
        item.pk,
        new Map([
          [partition.sk, partition],
          [item.sk, item],
        ]),
      )
    }
    if (replaced) this.#unindex(replaced)
    else this.#counted(item.pk, 1)
    if (item.expiresAt !== undefined) this.#expiry.add(item.expiresAt, item)
  }

  #remove(pk: string, sk: string): boolean {
    const partition = this.#items.get(pk)
    let removed: StateItem | undefined
    if (partition instanceof Map) {
      removed = partition.get(sk)
      if (!removed) return false
      partition.delete(sk)
      if (partition.size === 0) this.#items.delete(pk)
    } else if (partition?.sk === sk) {
      removed = partition
      this.#items.delete(pk)
    } else return false
    this.#unindex(removed)
    this.#counted(pk, -1)
    return true
  }

  #unindex(item: StateItem): void {
    if (item.expiresAt !== undefined) this.#expiry.delete(item.expiresAt, item)
  }

  #counted(pk: string, delta: 1 | -1): void {
    this.#count += delta
    const kind = kindOf(pk)
    const n = (this.#perKind.get(kind) ?? 0) + delta
    if (n === 0) this.#perKind.delete(kind)
    else this.#perKind.set(kind, n)
  }

  /** Removes up to SWEEP_BATCH expired items, earliest first; live items are never looked at. */
  #sweep(): void {
    for (const item of this.#expiry.takeExpired(this.nowSeconds(), SWEEP_BATCH)) {
      // Still the stored object: the index forgets an item as soon as it is replaced or deleted.
      this.#remove(item.pk, item.sk)
    }
  }
}

/** The kind of a key: its `pk` up to the first `#` (`replay`, `nonce`, …), or the whole `pk`. */
function kindOf(pk: string): string {
  const hash = pk.indexOf('#')
  return hash === -1 ? pk : pk.slice(0, hash)
}

function holds(current: StateItem | undefined, condition: WriteCondition): boolean {
  if ('ifAbsent' in condition) return current === undefined
  if (!current) return false
  return Object.entries(condition.ifMatch).every(([k, v]) => current.attrs[k] === v)
}

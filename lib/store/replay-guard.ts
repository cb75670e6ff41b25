import { consumeOnce } from './replay.js'
import type { StateTable } from './types.js'

/** Replay keys remembered per instance; a replayed-token flood wider than this costs one more sign per eviction. */
export const CONSUMED_KEYS_CAPACITY = 10_000
/** After a failed replay write, signing waits for the write for this long (no signature wasted on a down store). */
export const OVERLAP_PAUSE_MS = 5_000

export interface ReplayGuardOptions {
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly capacity?: number | undefined
  readonly pauseMs?: number | undefined
}

/**
 * Single use of subject tokens, in front of the store's conditional write. It remembers the keys
 * this instance saw consumed (its own wins and the store's refusals) until their `expiresAt`, LRU
 * bounded, and shares one in-flight write between concurrent presentations of the same key, so a
 * replay this instance knows of costs neither a store write nor a signature. docs/performance.md
 * ("Replay floods") holds the cost bound.
 */
export class ReplayGuard {
  readonly #table: StateTable
  readonly #now: () => number
  readonly #capacity: number
  readonly #pauseMs: number
  /** Key → expiresAt (epoch s); Map order is least recently used first. */
  readonly #known = new Map<string, number>()
  readonly #inFlight = new Map<string, Promise<boolean>>()
  #pausedUntil = 0

  constructor(table: StateTable, opts: ReplayGuardOptions) {
    this.#table = table
    this.#now = opts.now
    this.#capacity = Math.max(1, opts.capacity ?? CONSUMED_KEYS_CAPACITY)
    this.#pauseMs = opts.pauseMs ?? OVERLAP_PAUSE_MS
  }

  /**
   * True when a credential may be minted while this key's write is in flight: the key is neither
   * known consumed nor being consumed here, and the store has not just failed a write.
   */
  mayOverlap(key: string): boolean {
    return this.#now() >= this.#pausedUntil && !this.#inFlight.has(key) && !this.#isKnown(key)
  }

  /**
   * Consumes `key` once; false when it was already consumed (known here, lost to a concurrent
   * presentation on this instance, or refused by the store). A store failure rejects, for every
   * presentation sharing the write. The key counts as being consumed at once; the write itself
   * starts once `after` settles (default: now).
   */
  consume(key: string, expiresAt: number, after?: Promise<unknown>): Promise<boolean> {
    if (this.#isKnown(key)) return Promise.resolve(false)
    const pending = this.#inFlight.get(key)
    // Whoever started the write is the only one it can make first.
    if (pending) return pending.then(() => false)
    const started = after
      ? after.then(() => consumeOnce(this.#table, key, expiresAt))
      : consumeOnce(this.#table, key, expiresAt)
    const write = started
      .then(
        (first) => {
          this.#remember(key, expiresAt)
          return first
        },
        (err: unknown) => {
          this.#pausedUntil = this.#now() + this.#pauseMs
          throw err
        },
      )
      .finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, write)
    return write
  }

  /** Keys remembered as consumed (expired ones included until looked up or evicted). */
  get size(): number {
    return this.#known.size
  }

  #isKnown(key: string): boolean {
    const expiresAt = this.#known.get(key)
    if (expiresAt === undefined) return false
    this.#known.delete(key)
    // Same rule as the store: absent from `expiresAt` on, when the token can no longer be accepted.
    if (Math.floor(this.#now() / 1000) >= expiresAt) return false
    this.#known.set(key, expiresAt)
    return true
  }

  #remember(key: string, expiresAt: number): void {
    this.#known.delete(key)
    this.#known.set(key, expiresAt)
    if (this.#known.size > this.#capacity) {
      const oldest = this.#known.keys().next()
      if (!oldest.done) this.#known.delete(oldest.value)
    }
  }
}

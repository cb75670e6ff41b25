/** A scalar attribute value (DynamoDB S, N or BOOL). */
export type AttrValue = string | number | boolean

/** One state item; the DynamoDB table keys it by `pk` (hash) and `sk` (range). */
export interface StateItem {
  readonly pk: string
  readonly sk: string
  /** Epoch seconds; the item is treated as absent from this moment on (DynamoDB TTL attribute). */
  readonly expiresAt?: number | undefined
  readonly attrs: Readonly<Record<string, AttrValue>>
}

/**
 * Conditions for a write; an expired item always counts as absent. A conditional write of an item
 * whose own `expiresAt` has already passed by the store's clock is refused (`false`): it would
 * count as absent at once, so the condition it claimed to win would hold for the next writer too.
 */
export type WriteCondition =
  | { readonly ifAbsent: true }
  /** Every named attribute must currently hold exactly this value (optimistic concurrency). */
  | { readonly ifMatch: Readonly<Record<string, AttrValue>> }

/**
 * The primitive every piece of shared state is built on (replay, revocation, nonces, instance
 * bindings): one table, conditional single-item writes, no transactions, no secondary index.
 * Implementations: `memory-table.ts` (local) and `dynamodb-table.ts`. Any failure to answer
 * throws `StoreUnavailable`; a failed condition is a `false` result, never an error.
 */
export interface StateTable {
  /** Writes the item; false when the condition does not hold. */
  put(item: StateItem, condition?: WriteCondition): Promise<boolean>
  /** Reads one item (consistent read); undefined when absent or expired. */
  get(pk: string, sk: string): Promise<StateItem | undefined>
  /** Deletes the item; false when the condition does not hold (or, with ifAbsent, never meaningful). */
  delete(
    pk: string,
    sk: string,
    condition?: { readonly ifMatch: Readonly<Record<string, AttrValue>> },
  ): Promise<boolean>
  /** All unexpired items under one partition key, in sk order. */
  query(pk: string): Promise<StateItem[]>
  /**
   * Adds 1 to the number `attr` of one item, atomically (concurrent callers never lose a count),
   * unless it already holds `limit` or more. An absent or expired item starts from 0 and gets
   * `expiresAt`. Returns the new value, or undefined when the limit was reached.
   */
  increment(pk: string, sk: string, attr: string, opts: IncrementOptions): Promise<number | undefined>
  /**
   * Merges aggregated changes into one item in one unconditional write (UpdateItem on DynamoDB):
   * numbers in `add` are added (concurrent writers never lose a count), `set` overwrites, `setOnce`
   * writes only attributes the item does not hold yet. An absent or expired item starts empty.
   */
  merge(pk: string, sk: string, update: MergeUpdate): Promise<void>
}

/** Options for {@link StateTable.merge}. */
export interface MergeUpdate {
  readonly add?: Readonly<Record<string, number>>
  readonly set?: Readonly<Record<string, AttrValue>>
  readonly setOnce?: Readonly<Record<string, AttrValue>>
  /** Epoch seconds; replaces the item's expiry. */
  readonly expiresAt: number
}

/** Options for {@link StateTable.increment}. */
export interface IncrementOptions {
  readonly limit: number
  /** Epoch seconds, set when the item is created. */
  readonly expiresAt: number
}

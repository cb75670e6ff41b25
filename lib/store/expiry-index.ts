/**
 * Items grouped by their expiry second, with a min-heap of the seconds, so the expired ones are
 * found without looking at a live one: taking them costs what is taken, never a scan of the store.
 * Items are compared by identity; the owner removes an item when it replaces or deletes it.
 */
export class ExpiryIndex<T> {
  readonly #buckets = new Map<number, Set<T>>()
  /** Every second that has a bucket, once; heap-ordered, the earliest at 0. */
  readonly #heap: number[] = []

  /** Files `item` under `second`. */
  add(second: number, item: T): void {
    let bucket = this.#buckets.get(second)
    if (bucket === undefined) {
      bucket = new Set()
      this.#buckets.set(second, bucket)
      this.#push(second)
    }
    bucket.add(item)
  }

  /** Forgets `item` filed under `second` (a replaced or deleted item). */
  delete(second: number, item: T): void {
    this.#buckets.get(second)?.delete(item)
  }

  /** Removes and returns at most `limit` items filed under a second `<= now`, earliest first. */
  takeExpired(now: number, limit: number): T[] {
    const taken: T[] = []
    while (taken.length < limit && this.#heap.length > 0 && (this.#heap[0] as number) <= now) {
      const second = this.#heap[0] as number
      const bucket = this.#buckets.get(second) as Set<T>
      for (const item of bucket) {
        if (taken.length >= limit) break
        bucket.delete(item)
        taken.push(item)
      }
      if (bucket.size === 0) {
        this.#buckets.delete(second)
        this.#pop()
      }
    }
    return taken
  }

  #push(second: number): void {
    const heap = this.#heap
    heap.push(second)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as number) <= second) break
      heap[i] = heap[parent] as number
      i = parent
    }
    heap[i] = second
  }

  #pop(): void {
    const heap = this.#heap
    const last = heap.pop() as number
    if (heap.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left
      if ((heap[child] as number) >= last) break
      heap[i] = heap[child] as number
      i = child
    }
    heap[i] = last
  }
}

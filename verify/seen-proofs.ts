/**
 * DPoP proofs already accepted by this process (RFC 9449 §11.1), each remembered until its `iat`
 * can no longer pass the window. Bounded: past `max` entries the expired ones go first, then the
 * oldest. Replay protection is per process; a proof replayed to another instance within the
 * window is not detected (the window and `ath` keep that short and token-bound).
 */
export class SeenProofs {
  readonly #expiry = new Map<string, number>()
  constructor(private readonly max = 100_000) {}

  /** True the first time `key` is seen while unexpired; `expiresAt` and `now` are epoch seconds. */
  firstUse(key: string, expiresAt: number, now: number): boolean {
    const known = this.#expiry.get(key)
    if (known !== undefined && known >= now) return false
    if (this.#expiry.size >= this.max) this.#prune(now)
    this.#expiry.delete(key)
    this.#expiry.set(key, expiresAt)
    return true
  }

  #prune(now: number): void {
    for (const [key, expiresAt] of this.#expiry) if (expiresAt < now) this.#expiry.delete(key)
    for (const key of this.#expiry.keys()) {
      if (this.#expiry.size < this.max) break
      this.#expiry.delete(key)
    }
  }
}

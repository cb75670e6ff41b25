import type { AttrValue, MergeUpdate, StateTable } from '../store/types.js'

/** Partition of identity usage records (sk: provider + NUL + sub). */
export const IDENTITY_PK = 'usage#identity'
/** Partition of policy usage records (sk: policy name). */
export const POLICY_PK = 'usage#policy'
/** Attribute prefixes inside usage records: per policy (identity), per grant item and per day (policy). */
export const POLICY_ATTR = 'p:'
export const GRANT_ATTR = 'g:'
export const DAY_ATTR = 'd:'

/** Usage records outlive their last write by this long (DynamoDB TTL), so idle identities stay visible. */
const RECORD_LIFETIME_S = 400 * 86_400
const FLUSH_INTERVAL_MS = 60_000

/** One allowed exchange, as the exchange's audit step reports it. */
export interface AllowedUse {
  readonly provider: string
  readonly sub: string
  readonly policy: string
  /** What was granted: scopes, `name:level` permissions or role ARNs. */
  readonly granted: readonly string[]
  readonly sourceIp?: string | undefined
  readonly instanceId?: string | undefined
}

/** One denied exchange of a verified identity. */
export interface DeniedUse {
  readonly provider: string
  readonly sub: string
}

interface Pending {
  readonly pk: string
  readonly sk: string
  add: Record<string, number>
  set: Record<string, AttrValue>
  setOnce: Record<string, AttrValue>
  dirty: boolean
  /** Epoch ms of the last write started for this record (0: never). */
  flushedAt: number
  inFlight?: Promise<void> | undefined
}

export interface UsageRecorderOptions {
  readonly now: () => number
  /** Called when a flush fails (the changes are kept and retried with the next flush). */
  readonly onError?: (err: unknown) => void
  readonly flushIntervalMs?: number
}

/**
 * Aggregates usage in memory and writes each record at most once per flush interval (60 s) per
 * instance: one `merge` per identity and per policy, never on the exchange's own path. What is lost
 * when an instance disappears is at most its unflushed interval (docs/operations.md).
 */
export class UsageRecorder {
  readonly #records = new Map<string, Pending>()
  readonly #table: StateTable
  readonly #now: () => number
  readonly #interval: number
  readonly #onError: (err: unknown) => void
  #timer: ReturnType<typeof setInterval> | undefined
  /** The current UTC day's attribute name and the epoch ms at which it ends (computed once a day). */
  #day = { attr: '', endsAt: 0 }

  constructor(table: StateTable, opts: UsageRecorderOptions) {
    this.#table = table
    this.#now = opts.now
    this.#interval = opts.flushIntervalMs ?? FLUSH_INTERVAL_MS
    this.#onError = opts.onError ?? (() => {})
  }

  /** Records an allowed exchange; schedules (never awaits) the writes that are due. */
  allowed(use: AllowedUse): void {
    const now = this.#now()
    const seconds = Math.floor(now / 1000)
    const identity = this.#pending(IDENTITY_PK, identityKey(use.provider, use.sub))
    identity.setOnce.provider = use.provider
    identity.setOnce.sub = use.sub
    identity.setOnce.first_seen = seconds
    identity.set.last_seen = seconds
    identity.set[`${POLICY_ATTR}${use.policy}`] = seconds
    if (use.sourceIp) identity.set.last_ip = use.sourceIp
    if (use.instanceId) identity.set.instance_id = use.instanceId
    bump(identity, 'exchanges')
    const policy = this.#pending(POLICY_PK, use.policy)
    policy.set.last_used = seconds
    for (const item of use.granted) policy.set[`${GRANT_ATTR}${item}`] = seconds
    bump(policy, this.#dayAttr(now))
    this.#flushDue(now, identity, policy)
  }

  /** Records a denied exchange of a verified identity (`denied`, `last_denied`; not `last_seen`). */
  denied(use: DeniedUse): void {
    const now = this.#now()
    const identity = this.#pending(IDENTITY_PK, identityKey(use.provider, use.sub))
    identity.setOnce.provider = use.provider
    identity.setOnce.sub = use.sub
    identity.setOnce.first_seen = Math.floor(now / 1000)
    identity.set.last_denied = Math.floor(now / 1000)
    bump(identity, 'denied')
    this.#flushDue(now, identity)
  }

  /** Writes every record with pending changes now (before answering /inventory, at shutdown). */
  async flushAll(): Promise<void> {
    const now = this.#now()
    await Promise.all([...this.#records.values()].map((r) => this.#flush(r, now)))
  }

  /** Flushes due records every interval until `stop()`; the timer never keeps the process alive. */
  start(): void {
    this.#timer ??= setInterval(() => {
      const now = this.#now()
      for (const r of this.#records.values())
        if (now - r.flushedAt >= this.#interval) void this.#flush(r, now)
    }, this.#interval)
    this.#timer.unref?.()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Records with changes not yet written (for tests and the shutdown log). */
  get pendingCount(): number {
    let n = 0
    for (const r of this.#records.values()) if (r.dirty) n++
    return n
  }

  #dayAttr(now: number): string {
    if (now >= this.#day.endsAt || now < this.#day.endsAt - 86_400_000) {
      const start = now - (now % 86_400_000)
      this.#day = {
        attr: `${DAY_ATTR}${new Date(start).toISOString().slice(0, 10)}`,
        endsAt: start + 86_400_000,
      }
    }
    return this.#day.attr
  }

  #pending(pk: string, sk: string): Pending {
    const key = `${pk}\n${sk}`
    let r = this.#records.get(key)
    if (!r) {
      r = { pk, sk, add: {}, set: {}, setOnce: {}, dirty: false, flushedAt: 0 }
      this.#records.set(key, r)
    }
    r.dirty = true
    return r
  }

  #flushDue(now: number, ...records: Pending[]): void {
    for (const r of records) if (now - r.flushedAt >= this.#interval) void this.#flush(r, now)
  }

  async #flush(r: Pending, now: number): Promise<void> {
    if (r.inFlight) await r.inFlight
    if (!r.dirty) return
    const update: MergeUpdate = {
      add: r.add,
      set: r.set,
      setOnce: r.setOnce,
      expiresAt: Math.floor(now / 1000) + RECORD_LIFETIME_S,
    }
    r.add = {}
    r.set = {}
    r.setOnce = {}
    r.dirty = false
    r.flushedAt = now
    r.inFlight = this.#table
      .merge(r.pk, r.sk, update)
      .catch((err: unknown) => {
        // Keep the changes: the next flush writes them together with newer ones.
        for (const [k, n] of Object.entries(update.add ?? {})) r.add[k] = (r.add[k] ?? 0) + n
        r.set = { ...update.set, ...r.set }
        r.setOnce = { ...update.setOnce, ...r.setOnce }
        r.dirty = true
        this.#onError(err)
      })
      .finally(() => {
        r.inFlight = undefined
      })
    await r.inFlight
  }
}

function bump(r: Pending, attr: string): void {
  r.add[attr] = (r.add[attr] ?? 0) + 1
}

/** The sort key of an identity record: provider names cannot hold NUL, so the pair is unambiguous. */
export function identityKey(provider: string, sub: string): string {
  return `${provider}\u0000${sub}`
}

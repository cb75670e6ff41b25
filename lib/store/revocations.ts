import { randomUUID } from 'node:crypto'
import * as z from 'zod'
import { InvalidRequest, StoreUnavailable, TemporarilyUnavailable } from '../errors.js'
import type { StateItem, StateTable } from './types.js'

/** What `/revoke` names: one token, everything of one subject at one provider, or everything of one policy. */
export type RevocationTarget =
  | { jti: string; exp: number }
  | { provider: string; sub: string }
  | { policy: string }

/** One entry of the revocation list as `list()` reports it; times are epoch seconds. */
export type Revocation = (
  | { readonly kind: 'jti'; readonly jti: string; readonly exp: number }
  | { readonly kind: 'subject'; readonly provider: string; readonly sub: string }
  | { readonly kind: 'policy'; readonly policy: string }
) & {
  readonly revokedAt: number
  readonly revokedBy: string
  /** Set once lifted: issuance is allowed again, tokens issued up to `liftedAt` stay revoked. */
  readonly liftedAt?: number | undefined
  readonly liftedBy?: string | undefined
}

/** The whole list lives in one partition, so one Query reads it. */
const PARTITION = 'revocation'
/** The longest token a policy can grant (TokenGrantSchema ttl ≤ 12 h), plus clock slack. */
const MAX_TOKEN_LIFETIME_S = 12 * 3600 + 300
/**
 * A failed refresh may fall back to a cached list no older than this; after that, fail closed. It is
 * the propagation bound docs/operations.md promises (every instance within 10 s), so an outage never lets a
 * revocation made elsewhere go unseen for longer.
 */
export const REVOCATION_STALE_LIMIT_MS = 10_000
/**
 * Most entries the list may hold. Every instance reloads the whole list every 10 s, and subject and
 * policy revocations stay until lifted: an unbounded list would make that reload (and memory) grow
 * without limit. Token (jti) entries leave with their token; past the bound, revoke by subject or
 * policy, or lift entries.
 */
export const MAX_REVOCATIONS = 10_000

const base = {
  revokedAt: z.number().int(),
  revokedBy: z.string(),
  /** Random per revocation: a lift applies only to the revocation it read (absent on older items). */
  rev: z.string().optional(),
  liftedAt: z.number().int().optional(),
  liftedBy: z.string().optional(),
}
const EntrySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('jti'), jti: z.string(), exp: z.number().int(), ...base }),
  z.object({ kind: z.literal('subject'), provider: z.string(), sub: z.string(), ...base }),
  z.object({ kind: z.literal('policy'), policy: z.string(), ...base }),
])

/** The cached list; this instance's own revocations are applied to it in place (no reload). */
interface Snapshot {
  readonly loadedAt: number
  readonly jtis: Set<string>
  /** Key: `subjectKey(provider, sub)` or `policy`; value: the entry. */
  readonly subjects: Map<string, Revocation>
  readonly policies: Map<string, Revocation>
}

const sizeOf = (s: Snapshot) => s.jtis.size + s.subjects.size + s.policies.size

/**
 * The revocation list (kill switch). Items: pk `revocation`, sk `jti#<jti>` (expiresAt = token
 * exp), `sub#<provider>#<sub>`, `policy#<name>` (no expiry while active). Reads go through a cache
 * refreshed at most every `cacheTtlMs` (default 10 s, docs/operations.md "Admin calls"), so the hot path does
 * no store read per exchange. A failed refresh serves the cached list while it is younger than
 * 10 s and otherwise throws StoreUnavailable (fail closed: the exchange answers 503).
 */
export class RevocationList {
  readonly #table: StateTable
  readonly #now: () => number
  readonly #ttl: number
  readonly #max: number
  #cache: Snapshot | undefined
  #inflight: Promise<Snapshot> | undefined
  /** Bumped by every local write so a refresh that started before it cannot cache a stale list. */
  #generation = 0

  constructor(
    table: StateTable,
    opts: { now?: () => number; cacheTtlMs?: number; maxEntries?: number } = {},
  ) {
    this.#table = table
    this.#now = opts.now ?? Date.now
    this.#ttl = opts.cacheTtlMs ?? 10_000
    this.#max = opts.maxEntries ?? MAX_REVOCATIONS
  }

  /**
   * Records a revocation with `revokedAt = now`; repeating it moves `revokedAt` forward and clears a
   * lift. The entry is applied to this instance's cached list directly (other instances see it at
   * their next refresh), so a revocation never costs a reload of the whole list. Refused with
   * invalid_request when the list already holds {@link MAX_REVOCATIONS} entries and this is a new one.
   */
  async revoke(target: RevocationTarget, by: string): Promise<void> {
    const before = await this.#snapshot()
    if (sizeOf(before) >= this.#max && !has(before, target)) {
      throw new InvalidRequest(
        `the revocation list holds ${this.#max} entries; revoke by subject or policy, or lift entries`,
      )
    }
    const revokedAt = this.#nowSeconds()
    const rev = randomUUID()
    const item: StateItem =
      'jti' in target
        ? {
            pk: PARTITION,
            sk: skOf(target),
            expiresAt: target.exp,
            attrs: { kind: 'jti', jti: target.jti, exp: target.exp, revokedAt, revokedBy: by, rev },
          }
        : {
            pk: PARTITION,
            sk: skOf(target),
            attrs: { ...fieldsOf(target), revokedAt, revokedBy: by, rev },
          }
    // A refresh started before this write must not replace the list with one that lacks it.
    this.#generation++
    this.#inflight = undefined
    try {
      await this.#table.put(item)
    } catch (err) {
      this.#invalidate()
      throw err
    }
    const parsed = EntrySchema.safeParse(item.attrs)
    const cached = this.#cache
    if (cached && parsed.success) apply(cached, parsed.data)
    else this.#invalidate()
  }

  /**
   * Lifts a revocation. A token revocation is undone outright; a subject or policy revocation stops
   * blocking issuance but keeps every token issued up to the lift revoked until it expires: other
   * instances may have issued for up to 10 s after the revocation (cached list), and those tokens
   * must not come back to life. `superseded` when a concurrent re-revoke won (nothing lifted).
   */
  async lift(target: RevocationTarget, by: string): Promise<'lifted' | 'superseded'> {
    const sk = skOf(target)
    try {
      return await this.#lift(target, sk, by)
    } finally {
      this.#invalidate()
    }
  }

  async #lift(target: RevocationTarget, sk: string, by: string): Promise<'lifted' | 'superseded'> {
    if ('jti' in target) {
      await this.#table.delete(PARTITION, sk)
      return 'lifted'
    }
    const current = await this.#table.get(PARTITION, sk)
    if (!current) return 'lifted'
    const entry = EntrySchema.safeParse(current.attrs)
    if (!entry.success || entry.data.liftedAt !== undefined) return 'lifted'
    const now = this.#nowSeconds()
    // ifMatch on the revocation's random `rev` (older items: its revokedAt): a re-revoke made
    // meanwhile, even within the same second, wins over this lift.
    const written = await this.#table.put(
      {
        pk: PARTITION,
        sk,
        // Every token issued before now has expired by then.
        expiresAt: now + MAX_TOKEN_LIFETIME_S,
        attrs: { ...current.attrs, liftedAt: now, liftedBy: by },
      },
      {
        ifMatch: entry.data.rev === undefined ? { revokedAt: entry.data.revokedAt } : { rev: entry.data.rev },
      },
    )
    return written ? 'lifted' : 'superseded'
  }

  /** True while {@link blocksIssuance} answers from the cached list, without a store read. */
  get cached(): boolean {
    const cached = this.#cache
    const now = this.#now()
    return cached !== undefined && now >= cached.loadedAt && now - cached.loadedAt < this.#ttl
  }

  /** Issuance check on the hot path: true when the subject or policy is under an active revocation (cached list). */
  async blocksIssuance(q: { provider: string; sub: string; policy: string }): Promise<boolean> {
    const snap = await this.#snapshot()
    const subject = snap.subjects.get(subjectKey(q.provider, q.sub))
    const policy = snap.policies.get(q.policy)
    return (
      (subject !== undefined && subject.liftedAt === undefined) ||
      (policy !== undefined && policy.liftedAt === undefined)
    )
  }

  /**
   * Introspection check: the jti is revoked, or its subject/policy is revoked and either still
   * active (then no token of it is valid, closing the cache window) or lifted at or after `iat`.
   */
  async isTokenRevoked(t: {
    jti: string
    provider: string
    sub: string
    policy: string
    iat: number
  }): Promise<boolean> {
    const snap = await this.#snapshot()
    if (snap.jtis.has(t.jti)) return true
    return [snap.subjects.get(subjectKey(t.provider, t.sub)), snap.policies.get(t.policy)].some(
      (r) => r !== undefined && (r.liftedAt === undefined || t.iat <= r.liftedAt),
    )
  }

  /** Every current entry, read fresh from the store (admin listing). */
  async list(): Promise<Revocation[]> {
    return [...(await this.#load()).entries]
  }

  async #snapshot(): Promise<Snapshot> {
    const cached = this.#cache
    const now = this.#now()
    if (cached && now - cached.loadedAt < this.#ttl && now >= cached.loadedAt) return cached
    try {
      return await this.#refresh()
    } catch (err) {
      // A clock that stepped back makes the age unknowable: no stale fallback then.
      if (cached && now >= cached.loadedAt && now - cached.loadedAt < REVOCATION_STALE_LIMIT_MS) return cached
      throw err instanceof TemporarilyUnavailable
        ? err
        : new StoreUnavailable('revocation list unavailable', { cause: err })
    }
  }

  #invalidate(): void {
    this.#cache = undefined
    this.#inflight = undefined
    this.#generation++
  }

  /** Single flight: concurrent misses share one Query. */
  #refresh(): Promise<Snapshot> {
    const generation = this.#generation
    this.#inflight ??= this.#load()
      .then(({ snapshot }) => {
        if (generation === this.#generation) this.#cache = snapshot
        return snapshot
      })
      .finally(() => {
        if (generation === this.#generation) this.#inflight = undefined
      })
    return this.#inflight
  }

  async #load(): Promise<{ snapshot: Snapshot; entries: Revocation[] }> {
    const loadedAt = this.#now()
    const items = await this.#table.query(PARTITION)
    const entries: Revocation[] = []
    for (const item of items) {
      const parsed = EntrySchema.safeParse(item.attrs)
      // A malformed entry is a store fault; ignoring it would fail open.
      if (!parsed.success) throw new StoreUnavailable(`revocation entry ${item.sk} is malformed`)
      entries.push(parsed.data)
    }
    const snapshot: Snapshot = { loadedAt, jtis: new Set(), subjects: new Map(), policies: new Map() }
    for (const e of entries) apply(snapshot, e)
    return { snapshot, entries }
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000)
  }
}

/** Whether the list already holds an entry for `target` (re-revoking it adds nothing). */
function has(s: Snapshot, target: RevocationTarget): boolean {
  if ('jti' in target) return s.jtis.has(target.jti)
  if ('policy' in target) return s.policies.has(target.policy)
  return s.subjects.has(subjectKey(target.provider, target.sub))
}

/** Adds (or replaces) one entry of the cached list. */
function apply(s: Snapshot, e: Revocation): void {
  if (e.kind === 'jti') s.jtis.add(e.jti)
  else if (e.kind === 'subject') s.subjects.set(subjectKey(e.provider, e.sub), e)
  else s.policies.set(e.policy, e)
}

function subjectKey(provider: string, sub: string): string {
  // Provider names cannot contain '#' (NameSchema), so the key is unambiguous.
  return `${provider}#${sub}`
}

function skOf(target: RevocationTarget): string {
  if ('jti' in target) return `jti#${target.jti}`
  if ('policy' in target) return `policy#${target.policy}`
  return `sub#${subjectKey(target.provider, target.sub)}`
}

function fieldsOf(target: { provider: string; sub: string } | { policy: string }) {
  return 'policy' in target
    ? { kind: 'policy', policy: target.policy }
    : { kind: 'subject', provider: target.provider, sub: target.sub }
}

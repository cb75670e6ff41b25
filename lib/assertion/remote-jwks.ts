import * as z from 'zod'
import { urlProblem } from '../config/url.js'
import { FetchFailure, InvalidRequest, TemporarilyUnavailable } from '../errors.js'
import { fetchBounded, JSON_CONTENT_TYPE } from '../http/bounded-fetch.js'
import { parseJsonStrict } from '../json/strict-json.js'
import { importJwk, pickKey, type VerificationKey } from './jwk-keys.js'

/** Tunables; defaults are docs/design.md "JWKS". Tests shorten the timeout. */
export interface RemoteJwksOptions {
  /** Minimum spacing of network attempts outside the TTL schedule (unknown kid, after a failure). */
  readonly cooldownMs: number
  /** How long after the last successful fetch a set (or discovery document) may still be served. */
  readonly staleMs: number
  readonly timeoutMs: number
  readonly maxBytes: number
  /** Usable keys kept per set; the rest are ignored. */
  readonly maxKeys: number
}

export const DEFAULT_JWKS_OPTIONS: RemoteJwksOptions = {
  cooldownMs: 30_000,
  staleMs: 24 * 3600_000,
  timeoutMs: 5_000,
  maxBytes: 512 * 1024,
  maxKeys: 100,
}

export interface RemoteJwksDeps {
  readonly fetch: typeof globalThis.fetch
  /** Epoch ms; every cache decision uses this clock. */
  readonly now: () => number
  /** Called once per network fetch actually started. */
  readonly onFetch?: ((issuer: string, document: 'discovery' | 'jwks') => void) | undefined
}

/** Where one provider's keys come from. */
export interface JwksSource {
  /** The configured issuer (discovery base, and the `issuer` the discovery document must state). */
  readonly issuer: string
  /** Explicit JWKS URL; without it, the discovery document's `jwks_uri`. */
  readonly jwksUri?: string | undefined
  readonly ttlSeconds: number
}

const DiscoverySchema = z.looseObject({ issuer: z.string(), jwks_uri: z.string() })
const JwksSchema = z.looseObject({ keys: z.array(z.unknown()) })

/** Checks a discovered jwks_uri by the URL policy: learned from the issuer's discovery document. */
function assertFetchableUrl(text: string, issuer: string): void {
  const problem = urlProblem(text, 'discovery jwks_uri', { learnedFrom: issuer })
  if (problem) throw new FetchFailure('status', problem)
}

interface Cached<T> {
  readonly value: T
  readonly fetchedAt: number
}

interface Entry {
  discovery?: Cached<string>
  keys?: Cached<readonly VerificationKey[]>
  inflight?: Promise<readonly VerificationKey[]> | undefined
  /** Start of the last network attempt for the key set (any reason). */
  lastAttemptAt: number
  /** End of the last failed attempt, if the last attempt failed. */
  failedAt?: number | undefined
}

/**
 * Per-issuer cache of verification keys (docs/design.md "JWKS"): TTL-fresh sets, one shared in-flight
 * fetch per issuer, unknown-`kid` refetch at most once per cooldown, stale sets served while the
 * issuer is unreachable, keys imported once per fetch. Key material only ever comes from the
 * configured source, never from a token.
 */
export class RemoteJwksCache {
  private readonly entries = new Map<string, Entry>()
  private readonly opts: RemoteJwksOptions

  constructor(
    private readonly deps: RemoteJwksDeps,
    opts: Partial<RemoteJwksOptions> = {},
  ) {
    this.opts = { ...DEFAULT_JWKS_OPTIONS, ...opts }
  }

  /** The key for (alg, kid), refetching once per cooldown on a miss; InvalidRequest if the issuer lacks it. */
  async resolveKey(source: JwksSource, alg: string, kid: string | undefined): Promise<VerificationKey> {
    const entry = this.entry(source)
    let keys = await this.currentKeys(source, entry)
    let found = pickKey(keys, alg, kid)
    if (found) return found
    if (entry.inflight) keys = await this.awaitRefresh(entry.inflight)
    else if (this.deps.now() - entry.lastAttemptAt >= this.opts.cooldownMs) {
      keys = await this.awaitRefresh(this.refresh(source, entry))
    }
    found = pickKey(keys, alg, kid)
    if (found) return found
    throw new InvalidRequest(
      kid === undefined
        ? 'subject_token has no kid and its issuer does not publish exactly one key for its alg'
        : 'subject_token signing key is not published by its issuer (unknown kid)',
    )
  }

  private entry(source: JwksSource): Entry {
    const id = `${source.issuer} ${source.jwksUri ?? ''}`
    let entry = this.entries.get(id)
    if (!entry) {
      entry = { lastAttemptAt: Number.NEGATIVE_INFINITY }
      this.entries.set(id, entry)
    }
    return entry
  }

  /** A fresh set; else a refreshed one; else a stale one within staleMs; else 503. */
  private async currentKeys(source: JwksSource, entry: Entry): Promise<readonly VerificationKey[]> {
    const now = this.deps.now()
    const cached = entry.keys
    if (cached && now - cached.fetchedAt < source.ttlSeconds * 1000) return cached.value
    if (entry.inflight) return this.orStale(entry, entry.inflight)
    // Right after a failure, do not hammer an issuer that is down: serve stale or fail fast.
    if (entry.failedAt !== undefined && now - entry.failedAt < this.opts.cooldownMs)
      return this.orStale(entry)
    return this.orStale(entry, this.refresh(source, entry))
  }

  private async orStale(
    entry: Entry,
    pending?: Promise<readonly VerificationKey[]>,
  ): Promise<readonly VerificationKey[]> {
    let failure: unknown
    if (pending) {
      try {
        return await pending
      } catch (err) {
        failure = err
      }
    }
    const cached = entry.keys
    if (cached && this.deps.now() - cached.fetchedAt < this.opts.staleMs) return cached.value
    throw unavailable(failure)
  }

  private async awaitRefresh(
    pending: Promise<readonly VerificationKey[]>,
  ): Promise<readonly VerificationKey[]> {
    try {
      return await pending
    } catch (err) {
      throw unavailable(err)
    }
  }

  /** Starts (or joins) the single in-flight fetch of this issuer's key set. */
  private refresh(source: JwksSource, entry: Entry): Promise<readonly VerificationKey[]> {
    if (entry.inflight) return entry.inflight
    entry.lastAttemptAt = this.deps.now()
    const run = async () => {
      try {
        const uri = source.jwksUri ?? (await this.discoveredJwksUri(source, entry))
        const keys = await this.fetchKeys(source.issuer, uri)
        entry.keys = { value: keys, fetchedAt: this.deps.now() }
        entry.failedAt = undefined
        return keys
      } catch (err) {
        entry.failedAt = this.deps.now()
        throw err
      } finally {
        entry.inflight = undefined
      }
    }
    entry.inflight = run()
    // Joiners attach their own handlers; this keeps an unobserved failure from being "unhandled".
    entry.inflight.catch(() => {})
    return entry.inflight
  }

  private async discoveredJwksUri(source: JwksSource, entry: Entry): Promise<string> {
    const cached = entry.discovery
    const now = this.deps.now()
    if (cached && now - cached.fetchedAt < source.ttlSeconds * 1000) return cached.value
    try {
      const base = source.issuer.replace(/\/+$/, '')
      const doc = DiscoverySchema.safeParse(
        await this.fetchJson(source.issuer, 'discovery', `${base}/.well-known/openid-configuration`),
      )
      if (!doc.success) throw new FetchFailure('content-type', 'discovery document lacks issuer or jwks_uri')
      if (doc.data.issuer !== source.issuer) {
        throw new FetchFailure('status', 'discovery document names another issuer')
      }
      assertFetchableUrl(doc.data.jwks_uri, source.issuer)
      entry.discovery = { value: doc.data.jwks_uri, fetchedAt: this.deps.now() }
      return doc.data.jwks_uri
    } catch (err) {
      if (cached && this.deps.now() - cached.fetchedAt < this.opts.staleMs) return cached.value
      throw err
    }
  }

  private async fetchKeys(issuer: string, uri: string): Promise<readonly VerificationKey[]> {
    const doc = JwksSchema.safeParse(await this.fetchJson(issuer, 'jwks', uri))
    if (!doc.success) throw new FetchFailure('content-type', 'JWKS document has no keys array')
    const keys: VerificationKey[] = []
    for (const raw of doc.data.keys) {
      if (keys.length >= this.opts.maxKeys) break
      const key = importJwk(raw)
      if (key) keys.push(key)
    }
    return keys
  }

  private async fetchJson(issuer: string, document: 'discovery' | 'jwks', url: string): Promise<unknown> {
    this.deps.onFetch?.(issuer, document)
    const response = await fetchBounded(url, {
      fetch: this.deps.fetch,
      timeoutMs: this.opts.timeoutMs,
      maxBytes: this.opts.maxBytes,
      accept: document === 'jwks' ? 'application/jwk-set+json, application/json' : 'application/json',
      contentType: JSON_CONTENT_TYPE,
    })
    try {
      return parseJsonStrict(response.text)
    } catch {
      throw new FetchFailure('content-type', `${document} document is not strict JSON`)
    }
  }
}

function unavailable(cause: unknown): TemporarilyUnavailable {
  const reason = cause instanceof Error ? cause.message : 'no usable cached key set'
  return new TemporarilyUnavailable(
    'signing keys of the subject_token issuer are unavailable; try again later',
  ).withDetail(reason)
}

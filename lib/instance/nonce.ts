import { createHash, randomInt } from 'node:crypto'
import { TemporarilyUnavailable, TooManyRequests } from '../errors.js'
import type { StateTable } from '../store/types.js'
import { rateLimitUnit } from './rate-key.js'

/** Lifetime of a server nonce (seconds); also the `expires_in` of `POST /nonce`. */
export const NONCE_TTL_SECONDS = 300
const NONCE_RE = /^\d{10}$/
const MAX_ATTEMPTS = 5
/**
 * Nonces issued per minute by one broker deployment, whatever the sources: a bound on the store
 * writes that many addresses (or a botnet) can cause through this unauthenticated endpoint.
 */
export const DEFAULT_GLOBAL_NONCES_PER_MINUTE = 6000

export interface NonceService {
  /** Issues a fresh single-use nonce (10 decimal digits, the form Azure IMDS accepts). */
  issue(sourceIp: string): Promise<{ nonce: string; expires_in: typeof NONCE_TTL_SECONDS }>
  /**
   * Consumes a nonce atomically: true exactly once for an outstanding nonce, false otherwise. The
   * consumed record is kept until `keepUntil` (epoch seconds) when that is later than the nonce's
   * own lifetime, so the same digits cannot be issued again while an assertion embedding them can
   * still be accepted.
   */
  consume(nonce: string, keepUntil?: number): Promise<boolean>
}

const nonceKey = (nonce: string) => `nonce#${createHash('sha256').update(nonce).digest('base64url')}`
/** Source addresses are caller-controlled text in some deployments: hash them into the key. */
const rateKey = (ip: string) =>
  `nonce-rate#${createHash('sha256').update(rateLimitUnit(ip)).digest('base64url').slice(0, 22)}`
const GLOBAL_RATE_KEY = 'nonce-rate#*'

/** Server nonces for assertions that embed one (Azure attested data), kept hashed in the StateTable. */
export function createNonceService(
  table: StateTable,
  opts: { rateLimitPerMinute: number; now: () => number; globalLimitPerMinute?: number },
): NonceService {
  async function admit(sourceIp: string): Promise<void> {
    const nowMs = opts.now()
    const minute = Math.floor(nowMs / 60_000)
    const retryAfter = Math.max(1, 60 - Math.floor((nowMs % 60_000) / 1000))
    // One atomic counter per address (IPv6: per /64) and minute: concurrent requests never lose a
    // count, so a burst below the limit is never refused.
    const count = await table.increment(rateKey(sourceIp), String(minute), 'count', {
      limit: opts.rateLimitPerMinute,
      expiresAt: (minute + 2) * 60,
    })
    if (count === undefined) {
      throw new TooManyRequests('too many nonce requests from this address; retry later', retryAfter)
    }
    const all = await table.increment(GLOBAL_RATE_KEY, String(minute), 'count', {
      limit: opts.globalLimitPerMinute ?? DEFAULT_GLOBAL_NONCES_PER_MINUTE,
      expiresAt: (minute + 2) * 60,
    })
    if (all === undefined) throw new TooManyRequests('too many nonce requests; retry later', retryAfter)
  }

  return {
    async issue(sourceIp) {
      await admit(sourceIp)
      const expiresAt = Math.floor(opts.now() / 1000) + NONCE_TTL_SECONDS
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const nonce = String(randomInt(0, 10_000_000_000)).padStart(10, '0')
        const issued = await table.put(
          { pk: nonceKey(nonce), sk: '-', expiresAt, attrs: { state: 'issued' } },
          { ifAbsent: true },
        )
        if (issued) return { nonce, expires_in: NONCE_TTL_SECONDS }
      }
      throw new TemporarilyUnavailable('could not allocate a nonce; retry')
    },
    async consume(nonce, keepUntil) {
      if (!NONCE_RE.test(nonce)) return false
      // Flip issued -> consumed with one conditional write: exactly one consumer wins, and an
      // expired nonce counts as absent, so it cannot be consumed.
      const ownLifetime = Math.floor(opts.now() / 1000) + NONCE_TTL_SECONDS
      return table.put(
        {
          pk: nonceKey(nonce),
          sk: '-',
          expiresAt: Math.max(ownLifetime, keepUntil ?? 0),
          attrs: { state: 'consumed' },
        },
        { ifMatch: { state: 'issued' } },
      )
    },
  }
}

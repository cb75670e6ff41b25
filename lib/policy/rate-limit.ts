/**
 * Per-identity rate limits (`rateLimit: 30/m` on a policy, `rateLimit: { default }` for the rest):
 * one fixed-window counter per policy and subject in the state table, so every broker instance
 * sharing the table shares the count. Protects shared quotas (KMS Sign, GitHub's API) from one
 * misconfigured workload.
 */
import { createHash } from 'node:crypto'
import type { Config, RateLimit } from '../config/schema.js'
import { TooManyRequests } from '../errors.js'
import type { StateTable } from '../store/types.js'

/** Who is counted: one counter per policy, provider and subject. */
export interface RateLimitKey {
  readonly policy: string
  readonly provider: string
  readonly sub: string
}

/** The limits of a config, resolved per policy once. */
export interface RateLimiter {
  /** Counts one exchange; throws TooManyRequests (429 + Retry-After) when the window is full. */
  take(key: RateLimitKey, nowMs: number): Promise<void>
  /** The limit that applies to a policy, if any. */
  limitOf(policy: string): RateLimit | undefined
}

const COUNTER = 'count'

/**
 * The partition key: a digest, because a subject may be long (an ARN) or hold any character, and
 * the table must not learn more of it than the counter needs.
 */
function partitionOf(key: RateLimitKey): string {
  const digest = createHash('sha256').update(`${key.policy}\0${key.provider}\0${key.sub}`).digest('base64url')
  return `ratelimit#${digest}`
}

/** Counts one exchange against `limit`; throws TooManyRequests when it is over. */
export async function takeRateLimit(
  table: StateTable,
  limit: RateLimit,
  key: RateLimitKey,
  nowMs: number,
): Promise<void> {
  const now = Math.floor(nowMs / 1000)
  const windowStart = now - (now % limit.windowSeconds)
  const windowEnd = windowStart + limit.windowSeconds
  const counted = await table.increment(partitionOf(key), `${limit.windowSeconds}#${windowStart}`, COUNTER, {
    limit: limit.count,
    expiresAt: windowEnd,
  })
  if (counted !== undefined) return
  const retryAfter = Math.max(1, windowEnd - now)
  throw new TooManyRequests(
    `rate limit of ${limit.text} for this policy and subject exceeded; retry after ${retryAfter} seconds`,
    retryAfter,
  ).withDetail(`rate_limited: ${limit.text}`)
}

/** Builds the limiter of a config; undefined when no policy is limited (the step is then free). */
export function createRateLimiter(
  config: Pick<Config, 'policies' | 'rateLimit'>,
  table: StateTable,
): RateLimiter | undefined {
  const fallback = config.rateLimit?.default
  const limits = new Map<string, RateLimit>()
  for (const policy of config.policies) {
    const limit = policy.rateLimit ?? fallback
    if (limit) limits.set(policy.name, limit)
  }
  if (limits.size === 0) return undefined
  return {
    limitOf: (policy) => limits.get(policy),
    async take(key, nowMs) {
      const limit = limits.get(key.policy)
      if (limit) await takeRateLimit(table, limit, key, nowMs)
    },
  }
}

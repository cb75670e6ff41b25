/**
 * One GitHub REST call under the AWS retry budget (at most 3 attempts, 2 s each, within a deadline
 * shared by the whole exchange): server faults, timeouts and dropped connections are retried;
 * rate limits (403/429) and everything else are answered at once. Transient failures become
 * TemporarilyUnavailable here, at their source, with GitHub's Retry-After when it gave one.
 */
import { AWS_ATTEMPT_TIMEOUT_MS, AWS_DEADLINE_MS, AWS_MAX_ATTEMPTS } from '../aws/retry.js'
import { DependencyThrottled, FetchFailure, TemporarilyUnavailable } from '../errors.js'
import { fetchBounded, JSON_CONTENT_TYPE } from '../http/bounded-fetch.js'

export const GITHUB_API_VERSION = '2022-11-28'
const USER_AGENT = 'tessera-sts'
/** A token answer names up to 500 repositories, each a full repository object. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
/** Statuses whose answer the caller interprets; any other is a GitHub malfunction (503). */
const ANSWERED = [200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]
const DEFAULT_RATE_LIMIT_WAIT_S = 60
const MAX_RETRY_AFTER_S = 3600

export interface GithubCall {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** Path below the API URL, starting with `/`. */
  readonly path: string
  /** The whole Authorization header value. */
  readonly authorization: string
  readonly body?: unknown
}

/** An answer GitHub gave (2xx, or a 4xx the caller maps): status and parsed JSON (undefined when empty). */
export interface GithubAnswer {
  readonly status: number
  readonly json: unknown
}

export interface GithubClientDeps {
  readonly fetch: typeof globalThis.fetch
  /** Epoch ms; only used to turn `x-ratelimit-reset` into seconds. */
  readonly now: () => number
}

/** A deadline in monotonic milliseconds (performance.now), shared by every call of one exchange. */
export function githubDeadline(ms: number = AWS_DEADLINE_MS): number {
  return performance.now() + ms
}

const unavailable = (detail: string, retryAfter?: number) =>
  new TemporarilyUnavailable('GitHub is unavailable; retry later', retryAfter).withDetail(detail)

/** Seconds to wait from `retry-after` or `x-ratelimit-reset`, bounded; undefined when neither is usable. */
export function retryAfterSeconds(headers: Headers, nowMs: number): number | undefined {
  const clamp = (s: number) => Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(s)))
  const after = headers.get('retry-after')
  if (after !== null && /^\d{1,10}$/.test(after.trim())) return clamp(Number(after.trim()))
  const reset = headers.get('x-ratelimit-reset')
  if (reset !== null && /^\d{1,12}$/.test(reset.trim())) return clamp(Number(reset.trim()) - nowMs / 1000)
  return undefined
}

function parseJson(text: string, status: number): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw unavailable(`GitHub answered HTTP ${status} with a body that is not JSON`)
  }
}

/** Makes one GitHub call: returns 2xx and caller-mapped 4xx answers, throws TemporarilyUnavailable otherwise. */
export async function callGithub(
  apiUrl: string,
  call: GithubCall,
  deps: GithubClientDeps,
  deadline: number = githubDeadline(),
): Promise<GithubAnswer> {
  const what = `${call.method} ${call.path.replace(/\/\d+\//, '/{id}/')}`
  let last = 'no attempt made'
  for (let attempt = 1; attempt <= AWS_MAX_ATTEMPTS; attempt++) {
    const remaining = Math.floor(deadline - performance.now())
    if (remaining <= 0) break
    try {
      const answer = await fetchBounded(`${apiUrl}${call.path}`, {
        fetch: deps.fetch,
        method: call.method,
        timeoutMs: Math.min(AWS_ATTEMPT_TIMEOUT_MS, remaining),
        maxBytes: MAX_RESPONSE_BYTES,
        accept: 'application/vnd.github+json',
        contentType: JSON_CONTENT_TYPE,
        okStatuses: ANSWERED,
        headers: {
          authorization: call.authorization,
          'x-github-api-version': GITHUB_API_VERSION,
          'user-agent': USER_AGENT,
          ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      })
      const { status } = answer
      if (status === 403 || status === 429) {
        const wait = retryAfterSeconds(answer.headers, deps.now())
        const limited =
          status === 429 || wait !== undefined || answer.headers.get('x-ratelimit-remaining') === '0'
        if (!limited) throw unavailable(`${what}: GitHub answered HTTP 403 (forbidden)`)
        // Retrying within this request cannot help: GitHub said when to come back.
        throw new DependencyThrottled(
          'github',
          'GitHub is over its request quota; retry later',
          wait ?? DEFAULT_RATE_LIMIT_WAIT_S,
        ).withDetail(`${what}: GitHub answered HTTP ${status} (rate limited)`)
      }
      if (status >= 500) {
        last = `${what}: GitHub answered HTTP ${status}`
        const wait = retryAfterSeconds(answer.headers, deps.now())
        if (attempt === AWS_MAX_ATTEMPTS) throw unavailable(last, wait)
        continue
      }
      return { status, json: parseJson(answer.text, status) }
    } catch (err) {
      if (!(err instanceof FetchFailure)) throw err
      last = `${what}: ${err.reason}: ${err.message}`
      // Only a request GitHub may not have seen (or not finished) is worth another attempt.
      if (err.reason !== 'timeout' && err.reason !== 'network') throw unavailable(last)
    }
  }
  throw unavailable(`${last} (retry budget spent)`)
}

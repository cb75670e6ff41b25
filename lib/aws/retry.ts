import { DeadlineExceeded } from '../errors.js'
/**
 * Shared AWS SDK client settings (docs/design.md "AWS calls"): at most 3 attempts including SDK
 * retries, 2 s per attempt, all within a 5 s deadline, so an exchange whose dependency does not
 * answer gets its 503 within 5 s. Endpoints come from the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>`
 * variables (or an injected client), never from here.
 */

export const AWS_MAX_ATTEMPTS = 3
export const AWS_ATTEMPT_TIMEOUT_MS = 2_000
export const AWS_CONNECT_TIMEOUT_MS = 1_000
export const AWS_DEADLINE_MS = 5_000

export type AwsService = 'kms' | 'sts' | 'dynamodb'

/** The subset of SDK v3 client config Tessera sets; spread it into `new XClient({ ...awsClientConfig('kms') })`. */
export interface AwsClientSettings {
  readonly maxAttempts: number
  /** `standard`: exponential backoff with full jitter, retry quota; retries throttling, 5xx, network errors. */
  readonly retryMode: 'standard'
  /** Plain options object; the SDK builds its node:http handler from it. */
  readonly requestHandler: {
    readonly requestTimeout: number
    readonly connectionTimeout: number
    /** Without it the SDK only logs a warning when requestTimeout passes and keeps waiting. */
    readonly throwOnRequestTimeout: true
  }
}

/** Client settings for one AWS service: ≤ 3 attempts, 2 s per attempt. */
export function awsClientConfig(_service: AwsService): AwsClientSettings {
  // Same numbers for every service today; the parameter keeps call sites explicit should one diverge.
  return {
    maxAttempts: AWS_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: {
      requestTimeout: AWS_ATTEMPT_TIMEOUT_MS,
      connectionTimeout: AWS_CONNECT_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  }
}

/**
 * Drops the SDK's logger middleware from a client Tessera built. Tessera reports AWS failures
 * itself; the middleware would still redact every input and output (a walk of the operation's
 * schema) on each call just to hand them to the SDK's no-op default logger.
 */
export function withoutSdkLogging<C extends { middlewareStack: { remove(name: string): boolean } }>(
  client: C,
): C {
  client.middlewareStack.remove('loggerMiddleware')
  return client
}

/**
 * Bounds an AWS call, retries included, by `ms`. Pass a function to receive an AbortSignal and hand
 * it to `client.send(cmd, { abortSignal })` so the in-flight request is cancelled too; rejects with
 * DeadlineExceeded when time runs out.
 */
export function withDeadline<T>(
  work: Promise<T> | ((signal: AbortSignal) => Promise<T>),
  ms: number = AWS_DEADLINE_MS,
): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineExceeded(ms)
      controller.abort(err)
      reject(err)
    }, ms)
    timer.unref?.()
  })
  const running = typeof work === 'function' ? work(controller.signal) : work
  // A late rejection of the raced call must not surface as an unhandled rejection.
  running.catch(() => undefined)
  return Promise.race([running, timeout]).finally(() => clearTimeout(timer))
}

/** AWS error names for "over your request quota"; the SDK's standard retry mode retries them too. */
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottledException',
  'SlowDown',
])

/** AWS error names that mean "try again later": throttling, service-side faults, timeouts. */
const TRANSIENT_NAMES = new Set([
  ...THROTTLING_NAMES,
  'KMSInternalException',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'DependencyTimeoutException',
  'TimeoutError',
  'AbortError',
  'DeadlineExceeded',
])

/** True when an AWS service throttled the call (still throttled after the SDK's retries). */
export function isThrottlingAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (THROTTLING_NAMES.has(err.name)) return true
  const meta = err as { $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } }
  return meta.$retryable?.throttling === true || meta.$metadata?.httpStatusCode === 429
}

/** True for errors a caller should map to 503 (throttling, AWS faults, network, timeouts, deadline). */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (TRANSIENT_NAMES.has(err.name)) return true
  const meta = err as { $metadata?: { httpStatusCode?: number }; $fault?: string; code?: string }
  if (meta.$fault === 'server') return true
  const status = meta.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500) return true
  // node:http / undici network failures carry a syscall-style code.
  return typeof meta.code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(meta.code)
}

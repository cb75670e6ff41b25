/** OAuth 2.0 error codes Tessera puts on the wire (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 6750 §3.1). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'temporarily_unavailable'
  | 'not_found'
  | 'server_error'
  // CIBA polling (OpenID CIBA §11, RFC 8628 §3.5) and the approvals endpoints
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'conflict'

/**
 * The one error hierarchy: each class is one OAuth error code with its HTTP status.
 * `message` is what the caller sees when `expose` is true; `detail` is for the audit log only.
 */
export class BrokerError extends Error {
  detail: string | undefined
  /** Extra members of the JSON error body (never `error` or `error_description`); sent only when exposed. */
  members: Readonly<Record<string, unknown>> = {}
  constructor(
    readonly code: OAuthErrorCode,
    readonly status: number,
    message: string,
    readonly expose = true,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = new.target.name
  }

  /** Attaches internal detail (audit log only, never sent to the caller). */
  withDetail(detail: string): this {
    this.detail = detail
    return this
  }
}

/** 400: malformed request, or an assertion that fails verification. */
export class InvalidRequest extends BrokerError {
  constructor(message: string) {
    super('invalid_request', 400, message)
  }
}

/** 400: no policy grants the requested audience/resource to this subject. */
export class InvalidTarget extends BrokerError {
  constructor(message: string) {
    super('invalid_target', 400, message)
  }
}

/** 400: the requested scopes exceed the grant. */
export class InvalidScope extends BrokerError {
  constructor(message: string) {
    super('invalid_scope', 400, message)
  }
}

export class UnsupportedGrantType extends BrokerError {
  constructor(message: string) {
    super('unsupported_grant_type', 400, message)
  }
}

export class UnsupportedTokenType extends BrokerError {
  constructor(message: string) {
    super('unsupported_token_type', 400, message)
  }
}

/** 401 (RFC 6750): missing or invalid bearer token on an authenticated endpoint. */
export class InvalidToken extends BrokerError {
  /** `challengeOnly`: no credentials were presented, so the challenge carries no error (RFC 6750 §3.1). */
  constructor(message: string, opts: { challengeOnly?: boolean } = {}) {
    super('invalid_token', 401, message, true, {
      'WWW-Authenticate': opts.challengeOnly
        ? 'Bearer realm="tessera"'
        : 'Bearer realm="tessera", error="invalid_token"',
    })
  }
}

/** 403 (RFC 6750): the bearer token lacks the scope the endpoint needs. */
export class InsufficientScope extends BrokerError {
  constructor(message: string, scope: string) {
    super('insufficient_scope', 403, message, true, {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
    })
  }
}

export class MethodNotAllowed extends BrokerError {
  constructor(allowed: readonly string[]) {
    super('invalid_request', 405, `method not allowed; use ${allowed.join(' or ')}`, true, {
      Allow: allowed.join(', '),
    })
  }
}

export class PayloadTooLarge extends BrokerError {
  constructor(limit: number) {
    super('invalid_request', 413, `request body exceeds ${limit} bytes`)
  }
}

export class UnsupportedMediaType extends BrokerError {
  constructor(expected: string) {
    super('invalid_request', 415, `content type must be ${expected}`)
  }
}

export class NotFound extends BrokerError {
  constructor() {
    super('not_found', 404, 'no such endpoint')
  }
}

/** 429: a per-source rate limit (e.g. POST /nonce) was exceeded. */
export class TooManyRequests extends BrokerError {
  constructor(message: string, retryAfterSeconds: number) {
    super('invalid_request', 429, message, true, { 'Retry-After': String(retryAfterSeconds) })
  }
}

/** 503: a dependency (JWKS, KMS, STS, store) is down and no safe answer exists. */
export class TemporarilyUnavailable extends BrokerError {
  constructor(message: string, retryAfterSeconds = 5) {
    super('temporarily_unavailable', 503, message, true, { 'Retry-After': String(retryAfterSeconds) })
  }
}

/** 500: never exposed; the caller sees a generic message and the request id. */
export class ServerError extends BrokerError {
  constructor(message: string) {
    super('server_error', 500, message, false)
  }
}

/** Raised by config loading; names the file and the path inside it. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly string[],
  ) {
    super(`${file}: invalid configuration\n${issues.map((i) => `  - ${i}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Which dependency throttled Tessera (the `throttles` metric and the audit detail name it). */
export type ThrottlingDependency = 'kms' | 'sts' | 'store' | 'github'

/**
 * 503: a dependency refused Tessera for exceeding its request quota (AWS ThrottlingException and
 * kin) after the retries. Retry-After is short: quotas are per second, so a later second succeeds.
 */
export class DependencyThrottled extends TemporarilyUnavailable {
  constructor(
    readonly dependency: ThrottlingDependency,
    message: string,
    retryAfterSeconds = 1,
  ) {
    super(message, retryAfterSeconds)
  }
}

/**
 * 503 from the state store itself (down, timed out, full, an answer of the wrong shape): thrown where
 * the store fails, so no caller translates it. `detail` says what failed; a store at its request
 * quota throws DependencyThrottled('store') instead.
 */
export class StoreUnavailable extends TemporarilyUnavailable {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super('state store unavailable')
    this.detail = detail
    if (options.cause !== undefined) this.cause = options.cause
  }
}

/** Raised for text that is not JSON or that repeats a member name within one object. */
export class StrictJsonError extends SyntaxError {
  constructor(message: string) {
    super(message)
    this.name = 'StrictJsonError'
  }
}

/** Why an outbound fetch failed; callers map every reason to their own error (usually a 503). */
export type FetchFailureReason = 'timeout' | 'network' | 'status' | 'content-type' | 'too-large' | 'redirect'

/** An outbound fetch that did not produce an acceptable response. `message` never holds a body. */
export class FetchFailure extends Error {
  constructor(
    readonly reason: FetchFailureReason,
    message: string,
  ) {
    super(message)
    this.name = 'FetchFailure'
  }
}

/** The overall deadline passed before an AWS call (with its retries) finished. */
export class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`AWS call did not finish within ${ms} ms`)
    this.name = 'DeadlineExceeded'
  }
}

/** The configured KMS key cannot sign for the configured algorithm (startup misconfiguration). */
export class KmsKeyError extends Error {
  constructor(keyId: string, reason: string, options?: { cause?: unknown }) {
    super(`KMS key ${keyId}: ${reason}`, options)
    this.name = 'KmsKeyError'
  }
}

/** The DER bytes are not a well-formed ECDSA signature for this curve size. */
export class MalformedSignature extends Error {
  constructor(reason: string) {
    super(`malformed ECDSA DER signature: ${reason}`)
    this.name = 'MalformedSignature'
  }
}

/** Why a token is not a valid Tessera access token; never sent to callers verbatim for foreign tokens. */
export class TokenRejected extends Error {
  constructor(readonly reason: 'malformed' | 'signature' | 'expired' | 'claims') {
    super(`token rejected: ${reason}`)
    this.name = 'TokenRejected'
  }
}

/** A compile problem, located by its path in the config (e.g. policies[2].match.ref.glob). */
export class PolicyCompileError extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    message: string,
    /** The lint rule reporting it, when it is more specific than `invalid-policy` (guardrails). */
    readonly rule?: string,
  ) {
    super(message)
    this.name = 'PolicyCompileError'
  }
}

/** A template problem found at config load or at render time. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateError'
  }
}

/** Raised when the metadata service, the broker's /nonce or the local nonce file cannot give what is needed. */
export class InstanceMetadataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'InstanceMetadataError'
  }
}

/** A failed exchange, as the broker described it. */
export class ExchangeFailed extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
    /** The whole error body: CIBA answers carry auth_req_id, expires_in and interval beside the error. */
    readonly body: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${error}: ${description}`)
    this.name = 'ExchangeFailed'
  }
}

/** A command line the CLI cannot run (unknown flag, missing argument): exit code 2 with usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** 408: the client did not send the whole request (headers or body) in time. */
export class RequestTimeout extends BrokerError {
  constructor() {
    super('invalid_request', 408, 'the request was not received in time')
  }
}

/** 431: the request headers exceed the server's limit. */
export class RequestHeadersTooLarge extends BrokerError {
  constructor() {
    super('invalid_request', 431, 'the request headers are too large')
  }
}

/** Raised by `tessera policy test` for a test file that does not read or validate; names file and test. */
export class PolicyTestFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly string[],
  ) {
    super(`${file}: invalid policy test file\n${issues.map((i) => `  - ${i}`).join('\n')}`)
    this.name = 'PolicyTestFileError'
  }
}

/** 400 (RFC 9449 §5): a DPoP proof is present but invalid, or a grant requires one and none was sent. */
export class InvalidDpopProof extends BrokerError {
  constructor(message: string) {
    super('invalid_dpop_proof', 400, message)
  }
}

/** The codes a resource server answers with (RFC 6750 §3.1, RFC 9449 §7.1). */
export type TokenVerificationErrorCode = 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof'

/**
 * A token refused by the verifier library (`@tessera-sts/tessera/verify`): 401, or 403 for
 * insufficient_scope; `wwwAuthenticate` is the challenge to send back (also in `headers`).
 */
export class TokenVerificationError extends BrokerError {
  declare readonly code: TokenVerificationErrorCode
  constructor(
    code: TokenVerificationErrorCode,
    message: string,
    readonly wwwAuthenticate: string,
  ) {
    super(code, code === 'insufficient_scope' ? 403 : 401, message, true, {
      'WWW-Authenticate': wwwAuthenticate,
    })
  }
}

/** 400 (CIBA): the grant waits for human approval; the body carries the polling handle. */
export class AuthorizationPending extends BrokerError {
  constructor(message: string, members: { auth_req_id?: string; expires_in: number; interval: number }) {
    super('authorization_pending', 400, message)
    this.members = members
  }
}

/** 400 (CIBA): polled sooner than the handle's interval; the interval has grown. */
export class SlowDown extends BrokerError {
  constructor(interval: number) {
    super('slow_down', 400, `polling too fast; wait at least ${interval} seconds between polls`)
    this.members = { interval }
  }
}

/** 400 on a poll (an approver denied the request); 403 on the approvals endpoints (not yours to decide). */
export class AccessDenied extends BrokerError {
  constructor(message: string, status: 400 | 403 = 400) {
    super('access_denied', status, message)
  }
}

/** 400 (CIBA): the approval request timed out undecided. */
export class ExpiredToken extends BrokerError {
  constructor(message: string) {
    super('expired_token', 400, message)
  }
}

/** 400: an authorization grant (e.g. a CIBA auth_req_id) that is unknown, used, or not the caller's. */
export class InvalidGrant extends BrokerError {
  constructor(message: string) {
    super('invalid_grant', 400, message)
  }
}

/** 404: an approval request that does not exist (or no longer can be decided because it expired). */
export class ApprovalNotFound extends BrokerError {
  constructor() {
    super('not_found', 404, 'no pending approval request with this id (unknown or expired)')
  }
}

/** 409: the approval request is already decided, or this approver already approved it. */
export class ApprovalConflict extends BrokerError {
  constructor(message: string) {
    super('conflict', 409, message)
  }
}

/**
 * `tessera exchange --no-wait`: the grant waits for approval and the caller chose not to wait.
 * `json` is what to print (the handle, its lifetime and interval); the CLI exits 3.
 */
export class ApprovalNotAwaited extends Error {
  constructor(readonly pending: { auth_req_id: string; expires_in: number; interval: number }) {
    super('the grant waits for approval')
    this.name = 'ApprovalNotAwaited'
  }

  get json(): string {
    const { auth_req_id, expires_in, interval } = this.pending
    return JSON.stringify({ auth_req_id, expires_in, interval }, null, 2)
  }
}

/** 503: GitHub refused a GitHub App's JWT (401: wrong key or App id, or a skewed clock); never retried. */
export class GithubAppAuthFailed extends TemporarilyUnavailable {
  constructor(readonly app: string) {
    super('GitHub refused the credentials of the GitHub App; retry later')
  }
}

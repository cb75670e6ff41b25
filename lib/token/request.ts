import { CIBA_GRANT, TOKEN_EXCHANGE_GRANT, TokenTypes } from '../assertion/token-types.js'
import { InvalidRequest, InvalidScope, UnsupportedGrantType } from '../errors.js'
import type { FormParams } from '../http/form.js'
import type { GrantKind } from '../policy/types.js'

/** A syntactically valid RFC 8693 token-exchange request. */
export interface TokenRequest {
  readonly subjectToken: string
  readonly subjectTokenType: string
  readonly actorToken?: string | undefined
  readonly actorTokenType?: string | undefined
  readonly audiences: readonly string[]
  readonly resources: readonly string[]
  /** undefined = all of the grant's scopes. */
  readonly scopes?: readonly string[] | undefined
  /** The issued_token_type to answer with for a token grant. */
  readonly tokenType: string
  readonly grantKinds?: ReadonlySet<GrantKind> | undefined
  /** Why the caller asks; shown to approvers when the grant needs approval. */
  readonly reason?: string | undefined
}

/** A CIBA poll for a request that awaited approval. */
export interface CibaRequest {
  readonly authReqId: string
}

/** Longest `reason` accepted, in characters. */
export const MAX_REASON_LENGTH = 200

/** Parameters that may repeat (RFC 8693 §2.1). */
export const REPEATABLE = new Set(['audience', 'resource'])

const MAX_TARGETS = 10
const MAX_TARGET_LENGTH = 2048
/** Longest URI-valued parameter (grant and token types): every one Tessera knows is under 80. */
export const MAX_TYPE_LENGTH = 256
const MAX_SCOPE_LENGTH = 4096
/**
 * Upper bounds of the parameters that are read as text (and may reach the audit log), checked
 * before any other: an overlong value is refused without being scanned, copied or logged.
 * The tokens themselves are bounded by the body limit and by each verifier, and never logged.
 */
const BOUNDED: ReadonlyArray<readonly [string, number]> = [
  ['grant_type', MAX_TYPE_LENGTH],
  ['subject_token_type', MAX_TYPE_LENGTH],
  ['actor_token_type', MAX_TYPE_LENGTH],
  ['requested_token_type', MAX_TYPE_LENGTH],
  ['scope', MAX_SCOPE_LENGTH],
]
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const TOKEN_GRANT_TYPES = new Set<string>([TokenTypes.accessToken, TokenTypes.jwt])

/** Validates the form of a token-exchange request (no verification, no policy). */
export function parseTokenRequest(form: FormParams): TokenRequest {
  for (const [name, max] of BOUNDED) {
    if ((form.get(name)?.length ?? 0) > max) throw new InvalidRequest(`${name} exceeds ${max} characters`)
  }
  const grantType = form.get('grant_type')
  if (grantType === undefined) throw new InvalidRequest('grant_type is required')
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new UnsupportedGrantType(`grant_type must be ${TOKEN_EXCHANGE_GRANT}`)
  }
  const subjectToken = form.get('subject_token')
  if (subjectToken === undefined) throw new InvalidRequest('subject_token is required')
  const subjectTokenType = form.get('subject_token_type')
  if (subjectTokenType === undefined) throw new InvalidRequest('subject_token_type is required')
  const actorToken = form.get('actor_token')
  const actorTokenType = form.get('actor_token_type')
  if ((actorToken === undefined) !== (actorTokenType === undefined)) {
    throw new InvalidRequest('actor_token and actor_token_type go together')
  }
  const requested = form.get('requested_token_type')
  let tokenType: string = TokenTypes.accessToken
  let grantKinds: ReadonlySet<GrantKind> | undefined
  if (requested !== undefined) {
    if (TOKEN_GRANT_TYPES.has(requested)) {
      tokenType = requested
      // A GitHub installation token is an access token too (never a JWT).
      grantKinds = new Set(requested === TokenTypes.accessToken ? ['token', 'github'] : ['token'])
    } else if (requested === TokenTypes.awsCredentials) {
      grantKinds = new Set(['aws'])
    } else {
      throw new InvalidRequest('requested_token_type is not one Tessera issues')
    }
  }
  const reason = form.get('reason')
  if (reason !== undefined && reason.length > MAX_REASON_LENGTH) {
    throw new InvalidRequest(`reason is longer than ${MAX_REASON_LENGTH} characters`)
  }
  return {
    reason,
    subjectToken,
    subjectTokenType,
    actorToken,
    actorTokenType,
    audiences: targets(form, 'audience'),
    resources: targets(form, 'resource'),
    scopes: parseScope(form.get('scope')),
    tokenType,
    grantKinds,
  }
}

/** Whether the form is a CIBA poll (grant_type urn:openid:params:grant-type:ciba). */
export function isCibaRequest(form: FormParams): boolean {
  return form.get('grant_type') === CIBA_GRANT
}

/** Validates a CIBA poll: the handle is required; its format is the approval store's to judge. */
export function parseCibaRequest(form: FormParams): CibaRequest {
  if (!isCibaRequest(form)) throw new UnsupportedGrantType(`grant_type must be ${CIBA_GRANT}`)
  const authReqId = form.get('auth_req_id')
  if (authReqId === undefined) throw new InvalidRequest('auth_req_id is required')
  return { authReqId }
}

function targets(form: FormParams, name: 'audience' | 'resource'): string[] {
  const values = form.getAll(name)
  if (values.length > MAX_TARGETS) throw new InvalidRequest(`at most ${MAX_TARGETS} ${name} values`)
  for (const v of values) {
    if (v.length > MAX_TARGET_LENGTH)
      throw new InvalidRequest(`${name} exceeds ${MAX_TARGET_LENGTH} characters`)
    if (name === 'resource' && !isAbsoluteUri(v)) {
      throw new InvalidRequest('resource must be an absolute URI without a fragment (RFC 8707)')
    }
  }
  return [...new Set(values)]
}

function isAbsoluteUri(value: string): boolean {
  if (value.includes('#')) return false
  try {
    return new URL(value).protocol.length > 1
  } catch {
    return false
  }
}

/** RFC 6749 §3.3: scope = scope-token *( SP scope-token ). */
function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined
  const tokens = scope.split(' ')
  if (tokens.length > 100 || !tokens.every((t) => SCOPE_TOKEN.test(t))) {
    throw new InvalidScope('scope must be space-separated scope tokens')
  }
  return [...new Set(tokens)]
}

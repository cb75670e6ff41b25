import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { BrokerError, TemporarilyUnavailable } from '../lib/errors.js'
import { parseJsonStrict } from '../lib/json/strict-json.js'

/** The claims of a verified Tessera access token (RFC 9068). */
export interface TokenClaims extends JWTPayload {
  readonly iss: string
  readonly sub: string
  readonly aud: string | string[]
  readonly exp: number
  readonly iat: number
  readonly jti: string
  /** The Tessera policy that granted the token. */
  readonly client_id: string
  readonly scope?: string
  /** The provider that vouched for the subject. */
  readonly idp?: string
  /** Present on DPoP-bound tokens: the RFC 7638 thumbprint of the client's key. */
  readonly cnf?: { readonly jkt: string }
}

/** What the token must say. */
export interface AccessTokenRules {
  readonly issuer: string
  readonly audience: readonly string[]
  /** Seconds. */
  readonly clockTolerance: number
}

const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'RS256', 'PS256']
const JKT = /^[A-Za-z0-9_-]{43}$/

/**
 * Verifies a Tessera access token (RFC 9068) with the issuer's keys: signature, `typ: at+jwt`,
 * `iss`, `aud`, `exp`/`nbf`, and well-typed registered claims. Every refusal is `invalid(reason)`;
 * a key set that cannot be fetched is TemporarilyUnavailable.
 */
export async function verifyAccessToken(
  token: string,
  keys: JWTVerifyGetKey,
  o: AccessTokenRules,
  invalid: (description: string) => BrokerError,
): Promise<TokenClaims> {
  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(token, keys, {
      issuer: o.issuer,
      audience: [...o.audience],
      typ: 'at+jwt',
      algorithms: ACCESS_TOKEN_ALGORITHMS,
      clockTolerance: o.clockTolerance,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
    }))
  } catch (err) {
    throw classify(err, invalid)
  }
  // The signature covers the exact bytes; refuse two readings of them (a repeated member name).
  const [header, body] = token.split('.')
  for (const part of [header, body]) {
    try {
      parseJsonStrict(Buffer.from(part ?? '', 'base64url').toString('utf8'))
    } catch {
      throw invalid('the access token repeats a JSON member name')
    }
  }
  return checkClaims(payload, invalid)
}

/** jose's verdicts become invalid_token; a key set that cannot be fetched is an outage (503). */
function classify(err: unknown, invalid: (d: string) => BrokerError): BrokerError {
  if (err instanceof BrokerError) return err
  if (err instanceof errors.JWTExpired) return invalid('the access token is expired')
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = {
      iss: 'the access token was not issued by the expected issuer',
      aud: 'the access token is not meant for this API',
      nbf: 'the access token is not valid yet',
      typ: 'the access token typ must be at+jwt',
    }
    return invalid(what[err.claim] ?? `the access token ${err.claim} claim is missing or invalid`)
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return invalid('the access token signature does not verify')
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('the access token is signed by an unknown key')
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('the access token alg is not accepted')
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKSMultipleMatchingKeys
  )
    return invalid('the access token is malformed')
  return new TemporarilyUnavailable('the token issuer keys are unavailable').withDetail(
    err instanceof Error ? err.message : String(err),
  )
}

/** jose checked presence; these are the types Tessera mints, so anything else is refused. */
function checkClaims(p: JWTPayload, invalid: (d: string) => BrokerError): TokenClaims {
  for (const name of ['exp', 'iat', 'nbf'] as const) {
    const v = p[name]
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0))
      throw invalid(`the access token ${name} must be a non-negative integer`)
  }
  for (const name of ['sub', 'jti', 'client_id'] as const)
    if (typeof p[name] !== 'string' || p[name] === '')
      throw invalid(`the access token ${name} must be a string`)
  if (p.scope !== undefined && typeof p.scope !== 'string')
    throw invalid('the access token scope must be a string')
  if (p.cnf !== undefined) {
    const jkt =
      typeof p.cnf === 'object' && p.cnf !== null ? (p.cnf as Record<string, unknown>).jkt : undefined
    if (typeof jkt !== 'string' || !JKT.test(jkt))
      throw invalid('the access token cnf must hold a jkt thumbprint')
  }
  return p as TokenClaims
}

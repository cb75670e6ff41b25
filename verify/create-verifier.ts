import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { DPOP_IAT_WINDOW, verifyDpopProof } from '../lib/dpop/proof.js'
import { BrokerError, InvalidDpopProof, TemporarilyUnavailable } from '../lib/errors.js'
import { parseJsonStrict } from '../lib/json/strict-json.js'
import { missingCredentials, refuse, type Scheme } from './challenge.js'
import { isSecureUrl, issuerKeys } from './issuer-keys.js'
import { SeenProofs } from './seen-proofs.js'

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** The Tessera broker's issuer URL (its `iss`); its metadata names the JWKS. */
  readonly issuer: string
  /** This API's identifier: the token's `aud` must contain one of these. */
  readonly audience: string | readonly string[]
  /** Scopes every request needs (all of them); default none. */
  readonly scopes?: readonly string[] | undefined
  /** `required`: only DPoP-bound tokens with a proof; `optional` (default): Bearer or DPoP. */
  readonly dpop?: 'required' | 'optional' | undefined
  /** Seconds of clock skew allowed on `exp` and `nbf`; default 30. */
  readonly clockTolerance?: number | undefined
  /** fetch used for the metadata and the JWKS; default the global fetch. */
  readonly fetch?: typeof globalThis.fetch | undefined
}

/** One request as the API received it. */
export interface VerifyRequest {
  /** The Authorization header value. */
  readonly authorization?: string | undefined
  /** The HTTP method, as sent (e.g. GET). */
  readonly method: string
  /** The full URL the client called (scheme, host, path; query and fragment are ignored for DPoP). */
  readonly url: string
  /** The DPoP header value, when the client sent one. */
  readonly dpop?: string | undefined
}

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

export interface TokenVerifier {
  /** Resolves to the token's claims, or rejects with TokenVerificationError (or 503 TemporarilyUnavailable). */
  verify(request: VerifyRequest): Promise<TokenClaims>
}

const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'RS256', 'PS256']
const MAX_AUTHORIZATION_LENGTH = 16 * 1024
/** RFC 7235 credentials with a token68 (RFC 6750 §2.1 b64token). */
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9._~+/-]+=*)$/
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const JKT = /^[A-Za-z0-9_-]{43}$/

/** Creates a verifier for Tessera access tokens presented to an API (Bearer or DPoP). */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const o = checkOptions(options)
  const keys = issuerKeys(o.issuer, o.fetch)
  const seen = new SeenProofs()
  const schemes: readonly Scheme[] = o.dpop === 'required' ? ['DPoP'] : ['Bearer', 'DPoP']

  return {
    async verify(request) {
      const credentials = parseAuthorization(request.authorization, schemes)
      if (credentials === undefined) throw missingCredentials(schemes)
      const { scheme, token } = credentials
      if (!schemes.includes(scheme))
        throw refuse('invalid_token', 'DPoP', 'this API accepts only DPoP-bound tokens with a DPoP proof')
      const claims = await verifyAccessToken(token, keys, o, scheme)
      const jkt = claims.cnf?.jkt
      if (scheme === 'Bearer' && jkt !== undefined)
        throw refuse(
          'invalid_token',
          'DPoP',
          'the token is DPoP-bound: send it with the DPoP scheme and a proof',
        )
      if (scheme === 'DPoP') {
        if (jkt === undefined) throw refuse('invalid_token', 'DPoP', 'the token is not DPoP-bound')
        await checkProof(request, token, jkt, seen)
      }
      const missing = o.scopes.filter((s) => !scopesOf(claims).has(s))
      if (missing.length > 0)
        throw refuse(
          'insufficient_scope',
          scheme,
          'the token lacks a scope this API requires',
          o.scopes.join(' '),
        )
      return claims
    },
  }
}

interface CheckedOptions {
  readonly issuer: string
  readonly audience: string[]
  readonly scopes: readonly string[]
  readonly dpop: 'required' | 'optional'
  readonly clockTolerance: number
  readonly fetch: typeof globalThis.fetch
}

function checkOptions(o: TokenVerifierOptions): CheckedOptions {
  let issuer: URL
  try {
    issuer = new URL(o.issuer)
  } catch {
    throw new TypeError('issuer must be a URL')
  }
  if (!isSecureUrl(issuer)) throw new TypeError('issuer must use https (http only for loopback hosts)')
  const audience = typeof o.audience === 'string' ? [o.audience] : [...o.audience]
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === ''))
    throw new TypeError('audience must be a non-empty string or list of strings')
  const scopes = [...(o.scopes ?? [])]
  if (!scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))
    throw new TypeError('scopes must be scope tokens')
  const dpop = o.dpop ?? 'optional'
  if (dpop !== 'required' && dpop !== 'optional') throw new TypeError('dpop must be required or optional')
  const clockTolerance = o.clockTolerance ?? 30
  if (!Number.isSafeInteger(clockTolerance) || clockTolerance < 0)
    throw new TypeError('clockTolerance must be a non-negative integer number of seconds')
  return { issuer: o.issuer, audience, scopes, dpop, clockTolerance, fetch: o.fetch ?? globalThis.fetch }
}

/** `Bearer <token>` or `DPoP <token>` (scheme case-insensitive); undefined when nothing was sent. */
function parseAuthorization(
  header: string | undefined,
  schemes: readonly Scheme[],
): { scheme: Scheme; token: string } | undefined {
  if (header === undefined || (typeof header === 'string' && header.trim() === '')) return undefined
  // A JavaScript caller may pass what its framework gives (e.g. a list for a repeated header).
  const m =
    typeof header === 'string' && header.length <= MAX_AUTHORIZATION_LENGTH
      ? CREDENTIALS.exec(header.trim())
      : null
  const scheme = m?.[1]?.toLowerCase()
  const token = m?.[2]
  if (token === undefined || (scheme !== 'bearer' && scheme !== 'dpop'))
    throw refuse(
      'invalid_token',
      schemes[0] ?? 'Bearer',
      `the Authorization header must be ${schemes.join(' or ')} followed by a token`,
    )
  return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token }
}

async function verifyAccessToken(
  token: string,
  keys: JWTVerifyGetKey,
  o: CheckedOptions,
  scheme: Scheme,
): Promise<TokenClaims> {
  const invalid = (description: string) => refuse('invalid_token', scheme, description)
  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(token, keys, {
      issuer: o.issuer,
      audience: o.audience,
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

async function checkProof(
  request: VerifyRequest,
  token: string,
  jkt: string,
  seen: SeenProofs,
): Promise<void> {
  const invalid = (description: string) => refuse('invalid_dpop_proof', 'DPoP', description)
  if (request.dpop === undefined || request.dpop === '')
    throw invalid('a DPoP proof is required with a DPoP token')
  if (typeof request.dpop !== 'string') throw invalid('send exactly one DPoP header')
  const now = Date.now()
  let proof: Awaited<ReturnType<typeof verifyDpopProof>>
  try {
    proof = await verifyDpopProof(request.dpop, {
      method: request.method,
      url: request.url,
      now,
      accessToken: token,
    })
  } catch (err) {
    if (err instanceof InvalidDpopProof) throw invalid(err.message)
    throw err
  }
  if (proof.jkt !== jkt) throw invalid('the DPoP proof key is not the key the token is bound to')
  if (!seen.firstUse(`${proof.jkt}.${proof.jti}`, proof.iat + DPOP_IAT_WINDOW, Math.floor(now / 1000)))
    throw invalid('the DPoP proof has already been used')
}

function scopesOf(claims: TokenClaims): ReadonlySet<string> {
  return new Set((claims.scope ?? '').split(' ').filter((s) => s !== ''))
}

import { DPOP_IAT_WINDOW, verifyDpopProof } from '../lib/dpop/proof.js'
import { InvalidDpopProof } from '../lib/errors.js'
import { type TokenClaims, verifyAccessToken } from './access-token.js'
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

export interface TokenVerifier {
  /** Resolves to the token's claims, or rejects with TokenVerificationError (or 503 TemporarilyUnavailable). */
  verify(request: VerifyRequest): Promise<TokenClaims>
}

const MAX_AUTHORIZATION_LENGTH = 16 * 1024
/** RFC 7235 credentials with a token68 (RFC 6750 §2.1 b64token). */
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9._~+/-]+=*)$/
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

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
      const claims = await verifyAccessToken(token, keys, o, (description) =>
        refuse('invalid_token', scheme, description),
      )
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

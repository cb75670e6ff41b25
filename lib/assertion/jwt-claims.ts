import { InvalidRequest } from '../errors.js'

/** What the claim checks need from the provider and the clock. */
export interface ClaimRules {
  /** Epoch milliseconds. */
  readonly now: number
  /** Seconds of allowed clock skew. */
  readonly clockTolerance: number
  /** `aud` must contain at least one of these. */
  readonly audiences: readonly string[]
  /** Seconds; when set, `iat` is required and may be at most this old. */
  readonly maxTokenAge?: number | undefined
  /** When true, `jti` is required (single use). */
  readonly requireJti?: boolean
}

/** The checked registered claims. */
export interface CheckedClaims {
  readonly sub: string
  readonly exp: number
  readonly iat: number | undefined
  readonly jti: string | undefined
}

const MAX_JTI_LENGTH = 256

/** Reads a NumericDate claim: an integer in [0, MAX_SAFE_INTEGER], or absent. */
function numericDate(
  payload: Readonly<Record<string, unknown>>,
  name: 'exp' | 'nbf' | 'iat',
): number | undefined {
  const value = payload[name]
  if (value === undefined) return undefined
  // Number.isSafeInteger refuses Infinity (1e400), 1e300, floats, strings and null alike.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidRequest(`subject_token ${name} must be a non-negative integer number of seconds`)
  }
  return value
}

function audienceList(aud: unknown): readonly string[] {
  if (typeof aud === 'string') return [aud]
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return aud as string[]
  if (aud === undefined) throw new InvalidRequest('subject_token has no aud claim')
  throw new InvalidRequest('subject_token aud must be a string or a non-empty array of strings')
}

/**
 * Checks the registered claims of a verified JWT payload (exp, nbf, iat, max age, aud, sub, jti)
 * with explicit rules; nothing is inferred from the token. Throws InvalidRequest on any failure.
 */
export function checkJwtClaims(payload: Readonly<Record<string, unknown>>, rules: ClaimRules): CheckedClaims {
  const now = Math.floor(rules.now / 1000)
  const tolerance = rules.clockTolerance
  const exp = numericDate(payload, 'exp')
  const nbf = numericDate(payload, 'nbf')
  const iat = numericDate(payload, 'iat')
  if (exp === undefined) throw new InvalidRequest('subject_token has no exp claim')
  if (exp <= now - tolerance) throw new InvalidRequest('subject_token is expired')
  if (nbf !== undefined && nbf > now + tolerance)
    throw new InvalidRequest('subject_token is not yet valid (nbf)')
  if (iat !== undefined && iat > now + tolerance)
    throw new InvalidRequest('subject_token was issued in the future (iat)')
  if (rules.maxTokenAge !== undefined) {
    if (iat === undefined)
      throw new InvalidRequest('subject_token has no iat claim, required for its maximum age')
    if (now - iat > rules.maxTokenAge + tolerance) throw new InvalidRequest('subject_token is too old (iat)')
  }

  const aud = audienceList(payload.aud)
  if (!aud.some((a) => rules.audiences.includes(a))) {
    throw new InvalidRequest('subject_token audience is not accepted')
  }

  const sub = payload.sub
  if (sub === undefined) throw new InvalidRequest('subject_token has no sub claim')
  if (typeof sub !== 'string' || sub.length === 0)
    throw new InvalidRequest('subject_token sub must be a non-empty string')

  const jti = payload.jti
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)) {
    throw new InvalidRequest(
      `subject_token jti must be a non-empty string of at most ${MAX_JTI_LENGTH} characters`,
    )
  }
  if (rules.requireJti && jti === undefined) {
    throw new InvalidRequest('subject_token has no jti claim, required for single use by this provider')
  }
  return { sub, exp, iat, jti }
}

import { createLocalJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose'
import * as z from 'zod'
import { TokenRejected } from '../errors.js'
import type { KeyRing } from '../keys/signer.js'

/** The claims of a Tessera-issued access token (RFC 9068 as `mintAccessToken` writes them). */
export const IssuedClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  exp: z.number().int().refine(Number.isSafeInteger),
  iat: z.number().int().refine(Number.isSafeInteger),
  nbf: z.number().int().refine(Number.isSafeInteger).optional(),
  jti: z.string().min(1).max(256),
  client_id: z.string().min(1),
  idp: z.string().min(1),
  scope: z.string().optional(),
  /** A DPoP-bound token (RFC 9449): the thumbprint of the key its holder must prove. */
  cnf: z.strictObject({ jkt: z.string().min(1) }).optional(),
})
export type IssuedClaims = z.output<typeof IssuedClaimsSchema>

const keySets = new WeakMap<KeyRing, { jwks: JWTVerifyGetKey; algorithms: string[] }>()

function keySetOf(keys: KeyRing) {
  let set = keySets.get(keys)
  if (!set) {
    const algorithms = [...new Set(keys.publicKeys.map((k) => k.alg).filter((a): a is string => !!a))]
    set = { jwks: createLocalJWKSet({ keys: [...keys.publicKeys] }), algorithms }
    keySets.set(keys, set)
  }
  return set
}

/**
 * Verifies a token as one this broker issued: signature by one of its own published keys (never a
 * fetched one), `typ: at+jwt`, `iss` = the broker's issuer, unexpired (no clock tolerance: the
 * broker's own clock minted it), and well-typed claims. Revocation is the caller's check.
 */
export async function verifyIssuedToken(
  token: string,
  deps: { readonly issuer: string; readonly keys: KeyRing; readonly now: () => number },
): Promise<IssuedClaims> {
  if (token.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    throw new TokenRejected('malformed')
  }
  const { jwks, algorithms } = keySetOf(deps.keys)
  let payload: unknown
  try {
    ;({ payload } = await jwtVerify(token, jwks, {
      algorithms,
      issuer: deps.issuer,
      typ: 'at+jwt',
      currentDate: new Date(deps.now()),
      clockTolerance: 0,
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    }))
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new TokenRejected('expired')
    if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
      throw new TokenRejected('signature')
    }
    if (err instanceof errors.JWTClaimValidationFailed) throw new TokenRejected('claims')
    throw new TokenRejected('malformed')
  }
  const claims = IssuedClaimsSchema.safeParse(payload)
  if (!claims.success) throw new TokenRejected('claims')
  return claims.data
}

/** The `aud` claim as a list. */
export function audiencesOf(claims: IssuedClaims): readonly string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : claims.aud
}

/** The `scope` claim as a set of scope tokens. */
export function scopesOf(claims: IssuedClaims): ReadonlySet<string> {
  return new Set((claims.scope ?? '').split(' ').filter((s) => s !== ''))
}

/** Whether a token Tessera issued has been revoked (by jti, or by its subject or policy since it was issued). */
export function isIssuedTokenRevoked(
  revocations: {
    isTokenRevoked(t: {
      jti: string
      provider: string
      sub: string
      policy: string
      iat: number
    }): Promise<boolean>
  },
  claims: IssuedClaims,
): Promise<boolean> {
  return revocations.isTokenRevoked({
    jti: claims.jti,
    provider: claims.idp,
    sub: claims.sub,
    policy: claims.client_id,
    iat: claims.iat,
  })
}

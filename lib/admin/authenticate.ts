import { InsufficientScope, InvalidToken, TemporarilyUnavailable, TokenRejected } from '../errors.js'
import type { AdminDeps } from './deps.js'
import {
  audiencesOf,
  type IssuedClaims,
  isIssuedTokenRevoked,
  scopesOf,
  verifyIssuedToken,
} from './verify-access-token.js'

/** The scopes that open the admin endpoints. */
export type AdminScope = 'tessera:introspect' | 'tessera:revoke' | 'tessera:inventory' | 'tessera:approve'

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i

/**
 * Authenticates an admin call (docs/operations.md "Admin calls"): `Authorization: Bearer <Tessera access token>`
 * signed by this broker's own keys, `aud` naming the broker's issuer, unrevoked, with `scope`
 * holding `scope`. Missing or invalid => 401 InvalidToken; valid but without the scope => 403.
 */
export async function authenticateAdmin(
  deps: AdminDeps,
  headers: Readonly<Record<string, string | undefined>>,
  scope: AdminScope,
  requestId: string,
): Promise<IssuedClaims> {
  try {
    return await check(deps, headers, scope)
  } catch (err) {
    // An outage is not a denial: nothing to audit as one.
    if (err instanceof TemporarilyUnavailable) throw err
    deps.audit?.emit({
      event: 'admin.denied',
      level: 'WARN',
      request_id: requestId,
      time: new Date(deps.now()).toISOString(),
      scope,
      error: err instanceof InsufficientScope ? 'insufficient_scope' : 'invalid_token',
      reason: err instanceof Error ? err.message : 'unknown',
    })
    throw err
  }
}

const REJECTED = 'the bearer token is not valid, expired or revoked'

async function check(
  deps: AdminDeps,
  headers: Readonly<Record<string, string | undefined>>,
  scope: AdminScope,
): Promise<IssuedClaims> {
  const header = headers.authorization
  if (header === undefined || header === '')
    throw new InvalidToken('an Authorization: Bearer token is required', { challengeOnly: true })
  const match = BEARER.exec(header)
  if (!match?.[1]) {
    throw new InvalidToken('the Authorization header must use the Bearer scheme', { challengeOnly: true })
  }
  let claims: IssuedClaims
  try {
    claims = await verifyIssuedToken(match[1], deps)
  } catch (err) {
    // One message for every rejected token (expired, revoked, forged…): which one is the audit
    // log's business, not a hint for whoever holds a captured token.
    if (err instanceof TokenRejected) throw new InvalidToken(REJECTED).withDetail(err.reason)
    throw err
  }
  if (!audiencesOf(claims).includes(deps.issuer)) {
    throw new InvalidToken('the bearer token is not issued for this broker (aud)')
  }
  // Admin calls take bearer tokens only; a DPoP-bound token copied from a log must not open them.
  if (claims.cnf !== undefined) throw new InvalidToken(REJECTED).withDetail('dpop-bound')
  const revoked = await isIssuedTokenRevoked(deps.revocations, claims)
  if (revoked) throw new InvalidToken(REJECTED).withDetail('revoked')
  if (!scopesOf(claims).has(scope)) throw new InsufficientScope(`this call requires scope ${scope}`, scope)
  return claims
}

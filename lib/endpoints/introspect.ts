import { authenticateAdmin } from '../admin/authenticate.js'
import type { AdminDeps } from '../admin/deps.js'
import { type IssuedClaims, isIssuedTokenRevoked, verifyIssuedToken } from '../admin/verify-access-token.js'
import { tokenHash } from '../assertion/token-hash.js'
import { InvalidRequest, MethodNotAllowed, TokenRejected } from '../errors.js'
import { parseForm } from '../http/form.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'

/**
 * POST /introspect (RFC 7662). The caller authenticates with scope `tessera:introspect`. A token
 * is active only when this broker signed it (own keys), it is unexpired and not revoked; any other
 * token, expired, revoked, foreign-signed or malformed alike, is `{"active": false}` and nothing more.
 */
export async function introspect(deps: AdminDeps, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const caller = await authenticateAdmin(deps, req.headers, 'tessera:introspect', req.requestId)
  const form = parseForm(req.headers['content-type'], req.body)
  const token = form.get('token')
  if (token === undefined) throw new InvalidRequest('the token parameter is required')
  const claims = await activeClaims(deps, token)
  // Who looked at which token: the answer reveals a token's claims, so every one is on record.
  deps.audit?.emit({
    event: 'token.introspected',
    level: 'INFO',
    request_id: req.requestId,
    time: new Date(deps.now()).toISOString(),
    by: `${caller.client_id}/${caller.sub}`,
    token_sha256: tokenHash(token),
    active: claims !== undefined,
    ...(claims ? { jti: claims.jti, policy: claims.client_id } : {}),
  })
  return jsonResponse(200, claims ? activeBody(claims) : { active: false }, req.requestId)
}

async function activeClaims(deps: AdminDeps, token: string): Promise<IssuedClaims | undefined> {
  let claims: IssuedClaims
  try {
    claims = await verifyIssuedToken(token, deps)
  } catch (err) {
    if (err instanceof TokenRejected) return undefined
    throw err
  }
  // A store outage propagates as a 503: "active" could resurrect a revoked token, "inactive" would be a lie.
  const revoked = await isIssuedTokenRevoked(deps.revocations, claims)
  return revoked ? undefined : claims
}

function activeBody(c: IssuedClaims): Record<string, unknown> {
  return {
    active: true,
    ...(c.scope === undefined ? {} : { scope: c.scope }),
    client_id: c.client_id,
    sub: c.sub,
    aud: c.aud,
    iss: c.iss,
    exp: c.exp,
    iat: c.iat,
    ...(c.nbf === undefined ? {} : { nbf: c.nbf }),
    jti: c.jti,
    idp: c.idp,
    // RFC 9449 §6.2: a bound token is introspected with its confirmation.
    ...(c.cnf === undefined ? { token_type: 'Bearer' } : { token_type: 'DPoP', cnf: c.cnf }),
  }
}

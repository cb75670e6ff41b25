import { TokenTypes } from '../assertion/token-types.js'
import type { VerifiedSubject } from '../assertion/types.js'
import type { Broker } from '../broker.js'
import { InvalidRequest } from '../errors.js'
import type { FormParams } from '../http/form.js'
import type { HttpRequest } from '../http/types.js'
import type { TokenRequest } from './request.js'

/** How deep a nested `act` chain may go before the actor token is refused (RFC 8693 §4.1 chains). */
const MAX_ACT_DEPTH = 5

/** Whether the request delegates (RFC 8693): an actor token of type jwt that the subject's verifier does not read itself. */
export function isDelegation(broker: Broker, request: TokenRequest): boolean {
  if (request.actorTokenType === undefined) return false
  const own = broker.verifiers.get(request.subjectTokenType)?.actorTokenTypes ?? []
  return !own.includes(request.actorTokenType)
}

/**
 * Verifies a delegation's actor token exactly like a subject token of an `oidc` provider (issuer
 * allowlist, signature, claims, replay key); its failures name actor_token. Only the jwt token type
 * is accepted for an actor, as the contract fixes.
 */
export async function verifyActor(
  broker: Broker,
  request: TokenRequest,
  form: FormParams,
  req: HttpRequest,
): Promise<VerifiedSubject> {
  const { actorToken, actorTokenType } = request
  if (actorToken === undefined || actorTokenType !== TokenTypes.jwt) {
    throw new InvalidRequest(`actor_token_type must be ${TokenTypes.jwt}`)
  }
  const verifier = broker.verifiers.get(TokenTypes.jwt)
  if (!verifier) throw new InvalidRequest('actor tokens are not accepted by this broker')
  let actor: VerifiedSubject
  try {
    actor = await verifier.verify({
      subjectToken: actorToken,
      subjectTokenType: actorTokenType,
      params: form,
      requestId: req.requestId,
      sourceIp: req.sourceIp,
      now: broker.now(),
    })
  } catch (err) {
    if (err instanceof InvalidRequest)
      throw new InvalidRequest(err.message.replace(/^subject_token/, 'actor_token'))
    throw err
  }
  if (actor.kind !== 'oidc') throw new InvalidRequest('actor_token must come from an oidc provider')
  actClaimOf(actor) // a malformed nested act is refused before anything is consumed
  return actor
}

/** The minted token's `act` (RFC 8693 §4.1): the actor, with the actor token's own `act` nested. */
export function actClaimOf(actor: VerifiedSubject): Record<string, unknown> {
  const nested = actor.claims.act
  return {
    sub: actor.sub,
    idp: actor.provider,
    ...(nested === undefined ? {} : { act: checkedAct(nested, 1) }),
  }
}

/** A nested `act` kept as RFC 8693 shapes it: an object with a string `sub`, bounded depth, plain members. */
function checkedAct(value: unknown, depth: number): Record<string, unknown> {
  if (depth > MAX_ACT_DEPTH)
    throw new InvalidRequest(`actor_token act nests deeper than ${MAX_ACT_DEPTH} levels`)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequest('actor_token act must be a JSON object')
  }
  const act = value as Record<string, unknown>
  if (typeof act.sub !== 'string' || act.sub === '') throw new InvalidRequest('actor_token act needs a sub')
  const out: Record<string, unknown> = { sub: act.sub }
  for (const name of ['iss', 'idp'] as const) if (typeof act[name] === 'string') out[name] = act[name]
  if (act.act !== undefined) out.act = checkedAct(act.act, depth + 1)
  return out
}

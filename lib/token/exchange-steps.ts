import type { VerifiedSubject } from '../assertion/types.js'
import type { Broker } from '../broker.js'
import type { Minted } from '../credentials/minter.js'
import type { VerifiedProof } from '../dpop/proof.js'
import { bindTokenProof, checkTokenProof, type ProofBinding } from '../dpop/token-proof.js'
import { endpointUrl } from '../endpoints/metadata.js'
import {
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  TemporarilyUnavailable,
  UnsupportedTokenType,
} from '../errors.js'
import { type FormParams, parseForm } from '../http/form.js'
import type { HttpRequest } from '../http/types.js'
import { evaluate } from '../policy/evaluate.js'
import type { Decision } from '../policy/types.js'
import { approvalOf } from './approval-step.js'
import { isDelegation, verifyActor } from './delegation.js'
import {
  type CibaRequest,
  isCibaRequest,
  parseCibaRequest,
  parseTokenRequest,
  REPEATABLE,
  type TokenRequest,
} from './request.js'

// The steps of POST /token, in the order exchange.ts runs them; each one's failure is attributed by
// the step itself (a store outage counts as a store error, a minter's as its outage metric).

/** An allowing decision: the only kind that reaches the steps after `decide`. */
export type Allow = Extract<Decision, { allow: true }>

/** Who acted, for the audit event of a delegated exchange (the actor token only as its SHA-256). */
export function actorAudit(actor: VerifiedSubject | undefined): Record<string, string> {
  if (!actor) return {}
  return { actor_provider: actor.provider, actor_sub: actor.sub, actor_token_sha256: actor.tokenHash }
}

export function parse(
  req: HttpRequest,
): { request: TokenRequest; form: FormParams; ciba?: undefined } | { ciba: CibaRequest } {
  const form = parseForm(req.headers['content-type'], req.body, REPEATABLE)
  if (isCibaRequest(form)) return { ciba: parseCibaRequest(form) }
  return { request: parseTokenRequest(form), form }
}

/** A DPoP proof, if sent, is checked before anything else is fetched: present but invalid is a 400 whatever the grant. */
export function checkProof(broker: Broker, req: HttpRequest): Promise<VerifiedProof | undefined> {
  return checkTokenProof(req, endpointUrl(broker.issuer, '/token'), broker.now())
}

/** Verifies the subject token with the verifier registered for its token type. */
export async function verify(
  broker: Broker,
  request: TokenRequest,
  form: FormParams,
  req: HttpRequest,
): Promise<VerifiedSubject> {
  const verifier = broker.verifiers.get(request.subjectTokenType)
  if (!verifier) throw new UnsupportedTokenType('subject_token_type is not accepted by this broker')
  // An actor token the subject's verifier reads itself (an instance nonce) goes to it; any other is a delegation.
  const own = isDelegation(broker, request)
    ? {}
    : { actorToken: request.actorToken, actorTokenType: request.actorTokenType }
  return verifier.verify({
    subjectToken: request.subjectToken,
    subjectTokenType: request.subjectTokenType,
    ...own,
    params: form,
    requestId: req.requestId,
    sourceIp: req.sourceIp,
    now: broker.now(),
  })
}

/** Delegation (RFC 8693 actor_token): the actor verified like a subject; undefined without one. */
export async function verifyDelegation(
  broker: Broker,
  request: TokenRequest,
  form: FormParams,
  req: HttpRequest,
): Promise<VerifiedSubject | undefined> {
  return isDelegation(broker, request) ? verifyActor(broker, request, form, req) : undefined
}

/** Evaluates the policies (pure; deny by default). */
export function decide(
  broker: Broker,
  request: TokenRequest,
  subject: VerifiedSubject,
  actor: VerifiedSubject | undefined,
): Decision {
  return evaluate(broker.policies, {
    provider: subject.provider,
    claims: subject.claims,
    audiences: request.audiences,
    resources: request.resources,
    scopes: request.scopes,
    grantKinds: request.grantKinds,
    actor: actor && { provider: actor.provider, claims: actor.claims },
  })
}

/** Turns a denying decision into its OAuth error. */
export function permit(decision: Decision): Allow {
  if (decision.allow) return decision
  throw decision.error === 'invalid_scope'
    ? new InvalidScope(decision.message)
    : new InvalidTarget(decision.message)
}

/** Per-identity rate limit: runs before `consume`, so a refused request keeps its subject token. */
export async function limit(broker: Broker, decision: Allow, subject: VerifiedSubject): Promise<void> {
  if (!broker.rateLimiter) return
  const key = { policy: decision.policy, provider: subject.provider, sub: subject.sub }
  await guardStore(broker, broker.rateLimiter.take(key, broker.now()))
}

/**
 * DPoP: a token grant binds its token to the proof's key, spending the proof, or refuses a request
 * without one when it requires DPoP. Runs before `consume`, so a replayed proof keeps the subject token.
 */
export async function bind(
  broker: Broker,
  decision: Allow,
  proof: VerifiedProof | undefined,
): Promise<ProofBinding> {
  if (decision.grant.kind !== 'token') return { tokenType: 'Bearer' }
  return guardStore(broker, bindTokenProof(broker.table, proof, decision.grant.dpop === 'required'))
}

/** Replay protection: a single-use subject token (and a delegation's actor token) is consumed here, once. */
export async function consume(
  broker: Broker,
  subject: VerifiedSubject,
  actor: VerifiedSubject | undefined,
  after?: Promise<unknown>,
): Promise<void> {
  for (const [token, presented] of [
    ['subject_token', subject],
    ['actor_token', actor],
  ] as const) {
    if (!presented?.replay) continue
    const { key, expiresAt } = presented.replay
    const first = await guardStore(broker, broker.replay.consume(key, expiresAt, after))
    if (!first) throw new InvalidRequest(`${token} has already been used`).withDetail('replay')
  }
}

/**
 * Whether the guard and the mint may run before `consume` settles. Not for a grant held for
 * approval (it mints nothing here), nor for a replay this instance already knows of or a store that
 * just failed a write: those would spend a KMS call on a credential that is then discarded. Nor when
 * the revocation guard must read the store: that read then follows a successful `consume`, as in
 * the sequential order, so a failing store is met (and counted) once.
 */
export function overlaps(
  broker: Broker,
  decision: Allow,
  subject: VerifiedSubject,
  actor: VerifiedSubject | undefined,
): boolean {
  if (approvalOf(broker, decision.policy) || !broker.revocations.cached) return false
  return [subject, actor].every((p) => p?.replay === undefined || broker.replay.mayOverlap(p.replay.key))
}

/** Marks a promise awaited later as handled now: a mint that fails while `consume` runs is no unhandled rejection. */
export function settledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined)
  return p
}

/** The kill switch: revoked subjects and policies get nothing, nor does a revoked actor acting for someone. */
export async function guard(
  broker: Broker,
  decision: Allow,
  subject: VerifiedSubject,
  actor: VerifiedSubject | undefined,
): Promise<void> {
  const query = { provider: subject.provider, sub: subject.sub, policy: decision.policy }
  if (await guardStore(broker, broker.revocations.blocksIssuance(query))) {
    throw new InvalidRequest('issuance to this subject or by this policy is revoked').withDetail('revoked')
  }
  if (!actor) return
  const acting = { provider: actor.provider, sub: actor.sub, policy: decision.policy }
  if (await guardStore(broker, broker.revocations.blocksIssuance(acting))) {
    throw new InvalidRequest('issuance to this actor is revoked').withDetail('revoked')
  }
}

/** Mints the credential with the minter registered for the grant's kind. */
export async function mint(
  broker: Broker,
  decision: Allow,
  subject: VerifiedSubject,
  request: TokenRequest,
  requestId: string,
  binding: ProofBinding,
  extraClaims?: Readonly<Record<string, unknown>>,
): Promise<Minted> {
  const minter = broker.minters.get(decision.grant.kind)
  if (!minter) throw new InvalidTarget(`${decision.grant.kind} grants are not available from this broker`)
  try {
    return await minter.mint(decision.grant, subject, {
      policy: decision.policy,
      requestId,
      request,
      now: broker.now(),
      extraClaims: { ...binding.extraClaims, ...extraClaims },
      tokenType: binding.tokenType,
    })
  } catch (err) {
    if (err instanceof TemporarilyUnavailable && minter.outageMetric)
      broker.metrics.count(minter.outageMetric)
    throw err
  }
}

/** The store step's attribution: a store outage (thrown by the store itself) counts as a store error. */
export async function guardStore<T>(broker: Broker, p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof TemporarilyUnavailable) broker.metrics.count('store_errors')
    throw err
  }
}

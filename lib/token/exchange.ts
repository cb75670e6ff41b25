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
  MethodNotAllowed,
  TemporarilyUnavailable,
  UnsupportedTokenType,
} from '../errors.js'
import { type FormParams, parseForm } from '../http/form.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { evaluate } from '../policy/evaluate.js'
import type { Decision } from '../policy/types.js'
import { consumeOnce } from '../store/replay.js'
import { startExchangeRecord } from './record-exchange.js'
import { parseTokenRequest, REPEATABLE, type TokenRequest } from './request.js'

/** An allowing decision: the only kind that reaches the steps after `decide`. */
type Allow = Extract<Decision, { allow: true }>

/**
 * POST /token: RFC 8693 token exchange as named steps. The policy decides before the subject token is
 * consumed, so a denied request leaves it usable; every path is audited once.
 */
export async function exchangeToken(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const record = startExchangeRecord(broker, req.requestId, req.sourceIp)
  const { request, form } = await record.step({}, () => parse(req))
  const presented = { subjectTokenType: request.subjectTokenType, subjectToken: request.subjectToken }
  const proof = await record.step(presented, () => checkProof(broker, req))
  const subject = await record.step(presented, () => verify(broker, request, form, req))
  const verified = { ...presented, subject }
  const decision = await record.step(verified, () => decide(broker, request, subject))
  const decided = { ...verified, trace: decision.trace }
  const allowed = await record.step(decided, () => permit(decision))
  const permitted = { ...decided, policy: allowed.policy, grant: allowed.grant }
  await record.step(permitted, () => limit(broker, allowed, subject))
  const binding = await record.step(permitted, () => bind(broker, allowed, proof))
  await record.step(permitted, () => consume(broker, subject))
  await record.step(permitted, () => guard(broker, allowed, subject))
  const minted = await record.step(permitted, () =>
    mint(broker, allowed, subject, request, req.requestId, binding),
  )
  return record.allowed(permitted, minted)
}

function parse(req: HttpRequest): { request: TokenRequest; form: FormParams } {
  const form = parseForm(req.headers['content-type'], req.body, REPEATABLE)
  return { request: parseTokenRequest(form), form }
}

/** A DPoP proof, if sent, is checked before anything else is fetched: present but invalid is a 400 whatever the grant. */
function checkProof(broker: Broker, req: HttpRequest): Promise<VerifiedProof | undefined> {
  return checkTokenProof(req, endpointUrl(broker.issuer, '/token'), broker.now())
}

/** Verifies the subject token with the verifier registered for its token type. */
async function verify(
  broker: Broker,
  request: TokenRequest,
  form: FormParams,
  req: HttpRequest,
): Promise<VerifiedSubject> {
  const verifier = broker.verifiers.get(request.subjectTokenType)
  if (!verifier) throw new UnsupportedTokenType('subject_token_type is not accepted by this broker')
  if (request.actorTokenType !== undefined && !verifier.actorTokenTypes?.includes(request.actorTokenType)) {
    throw new InvalidRequest('actor_token_type is not accepted with this subject_token_type')
  }
  return verifier.verify({
    subjectToken: request.subjectToken,
    subjectTokenType: request.subjectTokenType,
    actorToken: request.actorToken,
    actorTokenType: request.actorTokenType,
    params: form,
    requestId: req.requestId,
    sourceIp: req.sourceIp,
    now: broker.now(),
  })
}

/** Evaluates the policies (pure; deny by default). */
function decide(broker: Broker, request: TokenRequest, subject: VerifiedSubject): Decision {
  return evaluate(broker.policies, {
    provider: subject.provider,
    claims: subject.claims,
    audiences: request.audiences,
    resources: request.resources,
    scopes: request.scopes,
    grantKinds: request.grantKinds,
  })
}

/** Turns a denying decision into its OAuth error. */
function permit(decision: Decision): Allow {
  if (decision.allow) return decision
  throw decision.error === 'invalid_scope'
    ? new InvalidScope(decision.message)
    : new InvalidTarget(decision.message)
}

/** Per-identity rate limit: runs before `consume`, so a refused request keeps its subject token. */
async function limit(broker: Broker, decision: Allow, subject: VerifiedSubject): Promise<void> {
  if (!broker.rateLimiter) return
  const key = { policy: decision.policy, provider: subject.provider, sub: subject.sub }
  await guardStore(broker, broker.rateLimiter.take(key, broker.now()))
}

/**
 * DPoP: a token grant binds its token to the proof's key, spending the proof, or refuses a request
 * without one when it requires DPoP. Runs before `consume`, so a replayed proof keeps the subject token.
 */
async function bind(
  broker: Broker,
  decision: Allow,
  proof: VerifiedProof | undefined,
): Promise<ProofBinding> {
  if (decision.grant.kind !== 'token') return { tokenType: 'Bearer' }
  return guardStore(broker, bindTokenProof(broker.table, proof, decision.grant.dpop === 'required'))
}

/** Replay protection: a single-use subject token is consumed here, once. */
async function consume(broker: Broker, subject: VerifiedSubject): Promise<void> {
  if (!subject.replay) return
  const first = await guardStore(
    broker,
    consumeOnce(broker.table, subject.replay.key, subject.replay.expiresAt),
  )
  if (!first) throw new InvalidRequest('subject_token has already been used').withDetail('replay')
}

/** The kill switch: revoked subjects and policies get nothing. */
async function guard(broker: Broker, decision: Allow, subject: VerifiedSubject): Promise<void> {
  const query = { provider: subject.provider, sub: subject.sub, policy: decision.policy }
  if (await guardStore(broker, broker.revocations.blocksIssuance(query))) {
    throw new InvalidRequest('issuance to this subject or by this policy is revoked').withDetail('revoked')
  }
}

/** Mints the credential with the minter registered for the grant's kind. */
async function mint(
  broker: Broker,
  decision: Allow,
  subject: VerifiedSubject,
  request: TokenRequest,
  requestId: string,
  binding: ProofBinding,
): Promise<Minted> {
  const minter = broker.minters.get(decision.grant.kind)
  if (!minter) throw new InvalidTarget(`${decision.grant.kind} grants are not available from this broker`)
  try {
    return await minter.mint(decision.grant, subject, {
      policy: decision.policy,
      requestId,
      request,
      now: broker.now(),
      extraClaims: binding.extraClaims,
      tokenType: binding.tokenType,
    })
  } catch (err) {
    if (err instanceof TemporarilyUnavailable && minter.outageMetric)
      broker.metrics.count(minter.outageMetric)
    throw err
  }
}

/** The store step's attribution: a store outage (thrown by the store itself) counts as a store error. */
async function guardStore<T>(broker: Broker, p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof TemporarilyUnavailable) broker.metrics.count('store_errors')
    throw err
  }
}

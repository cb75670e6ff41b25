import { approvalsOf } from '../approval/broker-approvals.js'
import { pollApproval, type Redeemed, releaseRedemption } from '../approval/poll.js'
import type { Broker } from '../broker.js'
import {
  AuthorizationPending,
  InvalidDpopProof,
  MethodNotAllowed,
  SlowDown,
  TemporarilyUnavailable,
} from '../errors.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { heldExchangeOrRefuse, holdForApproval, sameProofKey, stillHeld } from './approval-step.js'
import { actClaimOf } from './delegation.js'
import {
  actorAudit,
  bind,
  checkProof,
  consume,
  decide,
  guard,
  limit,
  mint,
  overlaps,
  parse,
  permit,
  settledLater,
  verify,
  verifyDelegation,
} from './exchange-steps.js'
import { type ExchangeRecord, startExchangeRecord } from './record-exchange.js'

/**
 * POST /token: RFC 8693 token exchange as named steps. The policy decides before the subject token is
 * consumed, so a denied request leaves it usable; every path is audited once.
 */
export async function exchangeToken(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const record = startExchangeRecord(broker, req.requestId, req.sourceIp)
  const parsed = await record.step({}, () => parse(req))
  if (parsed.ciba) return redeem(broker, record, parsed.ciba.authReqId, req)
  const { request, form } = parsed
  const presented = { subjectTokenType: request.subjectTokenType, subjectToken: request.subjectToken }
  const proof = await record.step(presented, () => checkProof(broker, req))
  const subject = await record.step(presented, () => verify(broker, request, form, req))
  const verified = { ...presented, subject }
  const actor = await record.step(verified, () => verifyDelegation(broker, request, form, req))
  const decision = await record.step(verified, () => decide(broker, request, subject, actor))
  const decided = { ...verified, trace: decision.trace }
  const allowed = await record.step(decided, () => permit(decision))
  const permitted = { ...decided, policy: allowed.policy, grant: allowed.grant }
  await record.step(permitted, () => limit(broker, allowed, subject))
  const binding = await record.step(permitted, () => bind(broker, allowed, proof))
  const extraClaims = actor ? { act: actClaimOf(actor) } : undefined
  const issue = () => mint(broker, allowed, subject, request, req.requestId, binding, extraClaims)
  // A plain grant is guarded and signed while its replay write is in flight; nothing leaves before
  // that write won. A grant held for approval never gets here early (see `overlaps`).
  const early = overlaps(broker, allowed, subject, actor)
    ? settledLater(guard(broker, allowed, subject, actor).then(issue))
    : undefined
  // When both run, the write waits one turn of the event loop: the signature, the longer round
  // trip, leaves first. The key is taken at once, so a concurrent presentation still waits for it.
  const signingFirst = early ? new Promise<void>((resolve) => setImmediate(resolve)) : undefined
  await record.step(permitted, () => consume(broker, subject, actor, signingFirst))
  if (!early) {
    const held = { policy: allowed.policy, subject, actor, request, proofJkt: proof?.jkt }
    // The kill switch first: a revoked subject must not put requests in front of approvers either.
    await record.step(permitted, () => guard(broker, allowed, subject, actor))
    await record.step(permitted, () => holdForApproval(broker, held, allowed.grant, req.requestId))
  }
  const minted = await record.step(permitted, () => early ?? issue())
  return record.allowed(permitted, { ...minted, granted: { ...minted.granted, ...actorAudit(actor) } })
}

/**
 * The CIBA poll (grant_type urn:openid:params:grant-type:ciba): waiting answers are not audited as
 * decisions; an approved request is decided again against today's policies, guarded, and minted
 * now with `approved_by`, and its audit event carries the approval id.
 */
async function redeem(
  broker: Broker,
  record: ExchangeRecord,
  authReqId: string,
  req: HttpRequest,
): Promise<HttpResponse> {
  const { requestId } = req
  // The poll is the token request (RFC 9449): its own DPoP proof binds the token minted now.
  const proof = await record.step({}, () => checkProof(broker, req))
  const approvals = approvalsOf(broker)
  let redeemed: Redeemed
  try {
    redeemed = await pollApproval(approvals, authReqId, requestId, (r) => sameProofKey(r, proof))
  } catch (err) {
    if (err instanceof AuthorizationPending || err instanceof SlowDown) throw err
    return record.step({}, () => Promise.reject(err))
  }
  const approval = redeemed.record
  try {
    const held = await record.step({}, () => heldExchangeOrRefuse(approval.payload))
    const { subject, actor, request } = held
    const facts = { subjectTokenType: request.subjectTokenType, subject, policy: held.policy }
    const decision = await record.step(facts, () => decide(broker, request, subject, actor))
    const allowed = await record.step({ ...facts, trace: decision.trace }, () =>
      stillHeld(broker, decision, held, approval),
    )
    const binding = await record.step(facts, () => bind(broker, allowed, proof))
    await record.step(facts, () => guard(broker, allowed, subject, actor))
    const extraClaims = { approved_by: approval.approvals, ...(actor ? { act: actClaimOf(actor) } : {}) }
    const minted = await record.step(facts, () =>
      mint(broker, allowed, subject, request, requestId, binding, extraClaims),
    )
    const granted = { ...minted.granted, approval_id: approval.id, ...actorAudit(actor) }
    return record.allowed({ ...facts, grant: allowed.grant }, { ...minted, granted })
  } catch (err) {
    // An outage, or a proof the store found spent, must not cost the requester an approved
    // request: nothing was minted, so the handle may be polled again.
    if (err instanceof TemporarilyUnavailable || err instanceof InvalidDpopProof)
      await releaseRedemption(approvals, redeemed)
    throw err
  }
}

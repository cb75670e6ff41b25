import { createHash } from 'node:crypto'
import * as z from 'zod'
import type { ApprovalRecord } from '../approval/approval-item.js'
import { POLL_INTERVAL_S } from '../approval/approvals.js'
import { approvalsOf } from '../approval/broker-approvals.js'
import type { VerifiedSubject } from '../assertion/types.js'
import type { Broker } from '../broker.js'
import type { ApprovalConfig, ProviderConfig } from '../config/schema.js'
import type { VerifiedProof } from '../dpop/proof.js'
import { AuthorizationPending, InvalidDpopProof, InvalidGrant } from '../errors.js'
import type { Decision, GrantKind, ResolvedGrant } from '../policy/types.js'
import type { TokenRequest } from './request.js'

const perBroker = new WeakMap<Broker, ReadonlyMap<string, ApprovalConfig>>()

/** The `approval:` of a policy's grant, if it has one (looked up in a map built once per broker). */
export function approvalOf(broker: Broker, policy: string): ApprovalConfig | undefined {
  let byPolicy = perBroker.get(broker)
  if (!byPolicy) {
    byPolicy = new Map(
      broker.config.policies.flatMap((p) => (p.grant.approval ? [[p.name, p.grant.approval] as const] : [])),
    )
    perBroker.set(broker, byPolicy)
  }
  return byPolicy.get(policy)
}

/** What an allowed request needs to be decided again and minted when its approval lands. */
export interface HeldExchange {
  readonly policy: string
  readonly subject: VerifiedSubject
  readonly actor?: VerifiedSubject | undefined
  readonly request: TokenRequest
  /** The key of the request's DPoP proof, if it had one: only a poll proving the same key redeems. */
  readonly proofJkt?: string | undefined
  /** The fingerprint of the grant the approvers were asked about (see grantFingerprint). */
  readonly grantSha256: string
}

/**
 * The `approve?` step: a grant with `approval:` is not minted now. The request is stored (any broker
 * instance may answer its polls) and the answer is authorization_pending with the requester's
 * auth_req_id; the subject token has already been consumed, so this request cannot be repeated.
 */
export async function holdForApproval(
  broker: Broker,
  held: Omit<HeldExchange, 'grantSha256'>,
  grant: ResolvedGrant,
  requestId: string,
): Promise<void> {
  const approval = approvalOf(broker, held.policy)
  if (!approval) return
  const { subject, actor, request } = held
  const { authReqId, record } = await approvalsOf(broker).create({
    policy: held.policy,
    approval,
    requester: { provider: subject.provider, sub: subject.sub, actorSub: actor?.sub },
    grant: grantSummary(grant),
    reason: request.reason,
    payload: toPayload({ ...held, grantSha256: grantFingerprint(grant) }),
    requestId,
  })
  throw new AuthorizationPending('this grant needs approval; poll with the auth_req_id', {
    auth_req_id: authReqId,
    expires_in: approval.timeout,
    interval: POLL_INTERVAL_S,
  }).withDetail(`approval ${record.id} requested`)
}

/**
 * SHA-256 of the whole resolved grant: what is minted after approval must be exactly what was
 * approved, so a policy widened while the request waited (scopes, audience, lifetime, role, session
 * policy) cannot hand out more than the approvers saw.
 */
export function grantFingerprint(grant: ResolvedGrant): string {
  return createHash('sha256').update(JSON.stringify(grant)).digest('base64url')
}

/** What approvers see of a grant (never a secret): audiences and scopes, or the AWS role. */
export function grantSummary(grant: ResolvedGrant): Record<string, unknown> {
  if (grant.kind === 'token')
    return { audience: grant.audience, scope: grant.scopes.join(' '), ttl: grant.ttl }
  if (grant.kind === 'aws') return { role_arn: grant.roleArn, duration: grant.duration }
  return { kind: (grant as { kind: string }).kind }
}

const SubjectSchema = z.strictObject({
  provider: z.string(),
  kind: z.string(),
  issuer: z.string(),
  sub: z.string(),
  claims: z.record(z.string(), z.unknown()),
  tokenHash: z.string(),
  expiresAt: z.number().optional(),
})

/** The stored form of a held exchange: no raw token (only hashes), no replay key. */
const PayloadSchema = z.strictObject({
  policy: z.string(),
  subject: SubjectSchema,
  actor: SubjectSchema.optional(),
  request: z.strictObject({
    subjectTokenType: z.string(),
    audiences: z.array(z.string()),
    resources: z.array(z.string()),
    scopes: z.array(z.string()).optional(),
    tokenType: z.string(),
    grantKinds: z.array(z.string()).optional(),
  }),
  proofJkt: z.string().optional(),
  grantSha256: z.string(),
})

function storedSubject(s: VerifiedSubject): z.input<typeof SubjectSchema> {
  const { provider, kind, issuer, sub, claims, tokenHash, expiresAt } = s
  return {
    provider,
    kind,
    issuer,
    sub,
    claims: { ...claims },
    tokenHash,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  }
}

function toPayload(held: HeldExchange): z.input<typeof PayloadSchema> {
  const r = held.request
  return {
    policy: held.policy,
    subject: storedSubject(held.subject),
    ...(held.actor ? { actor: storedSubject(held.actor) } : {}),
    request: {
      subjectTokenType: r.subjectTokenType,
      audiences: [...r.audiences],
      resources: [...r.resources],
      ...(r.scopes === undefined ? {} : { scopes: [...r.scopes] }),
      tokenType: r.tokenType,
      ...(r.grantKinds === undefined ? {} : { grantKinds: [...r.grantKinds] }),
    },
    ...(held.proofJkt === undefined ? {} : { proofJkt: held.proofJkt }),
    grantSha256: held.grantSha256,
  }
}

/** Reads a held exchange back from the approval store; undefined when it is not one this code wrote. */
export function heldExchangeOf(payload: unknown): HeldExchange | undefined {
  const parsed = PayloadSchema.safeParse(payload)
  if (!parsed.success) return undefined
  const { policy, subject, actor, request, proofJkt, grantSha256 } = parsed.data
  const asSubject = (s: z.output<typeof SubjectSchema>): VerifiedSubject => ({
    ...s,
    kind: s.kind as ProviderConfig['kind'],
  })
  return {
    policy,
    subject: asSubject(subject),
    actor: actor && asSubject(actor),
    request: {
      // The raw subject token is never stored: the held request only carries what minting reads.
      subjectToken: '',
      subjectTokenType: request.subjectTokenType,
      audiences: request.audiences,
      resources: request.resources,
      scopes: request.scopes,
      tokenType: request.tokenType,
      grantKinds: request.grantKinds && new Set(request.grantKinds as GrantKind[]),
    },
    proofJkt,
    grantSha256,
  }
}

/**
 * A request made with a DPoP proof is redeemed only by a poll proving the same key: a stolen
 * auth_req_id then yields nothing, and the approved token cannot be downgraded to a bearer token.
 */
export function sameProofKey(approval: ApprovalRecord, proof: VerifiedProof | undefined): void {
  const { proofJkt } = heldExchangeOrRefuse(approval.payload)
  if (proofJkt !== undefined && proof?.jkt !== proofJkt)
    throw new InvalidDpopProof('the poll needs a DPoP proof by the key of the request that awaited approval')
}

/** The held exchange of an approved request; invalid_grant when it is not one this code stored. */
export function heldExchangeOrRefuse(payload: unknown): HeldExchange {
  const held = heldExchangeOf(payload)
  if (!held) throw new InvalidGrant('auth_req_id does not name a token request')
  return held
}

/**
 * An approved request mints only if today's policies still allow exactly the approved grant, by the
 * same policy, under an approval rule the decision still satisfies (same approvers, enough of them).
 */
export function stillHeld(
  broker: Broker,
  decision: Decision,
  held: HeldExchange,
  approval: ApprovalRecord,
): Extract<Decision, { allow: true }> {
  const { policy, grantSha256 } = held
  const today = approvalOf(broker, policy)
  if (
    !decision.allow ||
    decision.policy !== policy ||
    !today ||
    today.approvers.policy !== approval.approvers ||
    approval.approvals.length < today.minApprovals ||
    grantFingerprint(decision.grant) !== grantSha256
  ) {
    throw new InvalidGrant('the policies changed while the request waited for approval; request again')
  }
  return decision
}

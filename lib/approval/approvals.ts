import { randomBytes } from 'node:crypto'
import { tokenHash } from '../assertion/token-hash.js'
import type { AuditSink } from '../audit/types.js'
import type { ApprovalConfig } from '../config/schema.js'
import { AccessDenied, ApprovalConflict, ApprovalNotFound, TemporarilyUnavailable } from '../errors.js'
import type { StateTable } from '../store/types.js'
import {
  type ApprovalRecord,
  decodeMain,
  encodeHandle,
  encodeMain,
  indexPartition,
  mainKey,
  type Requester,
} from './approval-item.js'
import { notifyApprovers } from './notify.js'

/** Seconds a requester waits between polls at first (CIBA `interval`). */
export const POLL_INTERVAL_S = 5
/** Rounds of read-and-conditional-write before a contended decision gives up; each lost round means another decision landed. */
const MAX_ROUNDS = 8
/** Most requests `GET /approvals` reads per call (newest ids are random, so this bounds the work only). */
const MAX_LISTED = 100
const ID_FORMAT = /^[A-Za-z0-9_-]{22}$/

/** What an approval request is created from (the exchange step fills it). */
export interface NewApproval {
  readonly policy: string
  readonly approval: ApprovalConfig
  readonly requester: Requester
  readonly grant: Readonly<Record<string, unknown>>
  readonly reason?: string | undefined
  readonly payload: unknown
  readonly requestId: string
}

/** An approver, as their Tessera token names them. */
export interface Approver {
  /** The token's client_id: the policy that minted it. */
  readonly policy: string
  readonly sub: string
  readonly idp: string
}

export interface ApprovalDeps {
  readonly table: StateTable
  readonly audit: AuditSink
  /** Epoch ms. */
  readonly now: () => number
  readonly fetch: typeof globalThis.fetch
  /** Webhook deadline (ms); default 3 s. */
  readonly notifyTimeoutMs?: number | undefined
}

/** A pending request as `GET /approvals` lists it. */
export interface ListedApproval {
  readonly id: string
  readonly policy: string
  readonly requester: { readonly provider: string; readonly sub: string }
  readonly grant: Readonly<Record<string, unknown>>
  readonly reason: string | null
  readonly requested_at: string
  readonly expires_at: string
  readonly approvals: readonly string[]
}

/**
 * Approval requests over the StateTable (memory or DynamoDB), so any broker instance answers.
 * Three items per request: the state (`approval#<id>`), the requester's polling handle keyed by the
 * SHA-256 of `auth_req_id` (the raw handle is never stored), and an index entry under the approvers'
 * policy for listing. Every state change is a conditional write on the version it read.
 */
export class Approvals {
  constructor(readonly deps: ApprovalDeps) {}

  /** Stores a new pending request and notifies its webhook (not awaited); returns the requester's handle. */
  async create(
    input: NewApproval,
  ): Promise<{ authReqId: string; record: ApprovalRecord; notified: Promise<void> }> {
    const now = this.deps.now()
    const authReqId = randomBytes(32).toString('base64url')
    const record: ApprovalRecord = {
      id: randomBytes(16).toString('base64url'),
      policy: input.policy,
      approvers: input.approval.approvers.policy,
      minApprovals: input.approval.minApprovals,
      requester: input.requester,
      grant: input.grant,
      reason: input.reason,
      requestedAt: now,
      deadline: Math.floor(now / 1000) + input.approval.timeout,
      status: 'pending',
      approvals: [],
      version: 1,
      payload: input.payload,
    }
    const { table } = this.deps
    const hash = tokenHash(authReqId)
    const handle = {
      hash,
      id: record.id,
      lastPollAt: now,
      interval: POLL_INTERVAL_S,
      redeemed: false,
      version: 1,
    }
    // Random 128/256-bit keys: a collision means a broken random source, never a retry case.
    if (!(await table.put(encodeMain(record), { ifAbsent: true })))
      throw new TemporarilyUnavailable('approval id collision')
    if (!(await table.put(encodeHandle(handle, record.deadline), { ifAbsent: true })))
      throw new TemporarilyUnavailable('approval handle collision')
    await table.put({
      pk: indexPartition(record.approvers),
      sk: record.id,
      expiresAt: record.deadline,
      attrs: {},
    })
    this.#emit('approval.requested', 'INFO', input.requestId, record, {
      provider: record.requester.provider,
      sub: record.requester.sub,
      actor_sub: record.requester.actorSub,
      approvers: record.approvers,
      min_approvals: record.minApprovals,
      grant: record.grant,
      reason: record.reason,
      expires_at: new Date(record.deadline * 1000).toISOString(),
      auth_req_sha256: hash,
    })
    const notified = input.approval.notify
      ? notifyApprovers(input.approval.notify.webhook, record, {
          fetch: this.deps.fetch,
          timeoutMs: this.deps.notifyTimeoutMs ?? 3000,
          onFailure: (reason) =>
            this.#emit('approval.notify_failed', 'WARN', input.requestId, record, { reason }),
        })
      : Promise.resolve()
    return { authReqId, record, notified }
  }

  /** Reads a request by id; undefined when unknown, malformed id, or past the time it is kept. */
  async get(id: string): Promise<ApprovalRecord | undefined> {
    if (!ID_FORMAT.test(id)) return undefined
    const { pk, sk } = mainKey(id)
    const item = await this.deps.table.get(pk, sk)
    return item ? decodeMain(item) : undefined
  }

  /** Pending, unexpired requests this approver may decide: their policy's, not their own, not yet approved by them. */
  async list(approver: Approver): Promise<ListedApproval[]> {
    const now = this.deps.now()
    const index = await this.deps.table.query(indexPartition(approver.policy))
    const records = await Promise.all(index.slice(-MAX_LISTED).map((i) => this.get(i.sk)))
    return records
      .filter((r): r is ApprovalRecord => r !== undefined)
      .filter((r) => mayDecide(r, approver, now) === undefined)
      .sort((a, b) => a.requestedAt - b.requestedAt)
      .map(listed)
  }

  /** Records one approver's decision; exactly one of racing decisions lands per version. */
  async decide(
    id: string,
    approver: Approver,
    decision: 'approve' | 'deny',
    opts: { reason?: string | undefined; requestId: string },
  ): Promise<{ status: 'approved' | 'denied' | 'pending'; record: ApprovalRecord }> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const record = await this.get(id)
      const refusal = record ? mayDecide(record, approver, this.deps.now()) : new ApprovalNotFound()
      if (refusal || !record) throw refusal ?? new ApprovalNotFound()
      const next = applyDecision(record, approver.sub, decision)
      const written = await this.deps.table.put(encodeMain(next), { ifMatch: { version: record.version } })
      if (!written) continue
      const status =
        next.status === 'pending' ? 'pending' : next.status === 'approved' ? 'approved' : 'denied'
      if (status !== 'pending') await this.#unlist(next)
      this.#emit(
        decision === 'deny' ? 'approval.denied' : 'approval.approved',
        'INFO',
        opts.requestId,
        next,
        {
          approver: approver.sub,
          approver_idp: approver.idp,
          status,
          approvals: next.approvals,
          min_approvals: next.minApprovals,
          reason: opts.reason,
        },
      )
      return { status, record: next }
    }
    throw new ApprovalConflict('the request is being decided by others right now; list it again')
  }

  /** Marks a pending request whose deadline passed as expired (once, whoever notices first). */
  async expire(record: ApprovalRecord, requestId: string): Promise<void> {
    if (record.status !== 'pending') return
    const next = { ...record, status: 'expired' as const, version: record.version + 1 }
    // No unlisting here: the index entry expires at the deadline by itself (and the token
    // function, which polls, may not delete items).
    if (await this.deps.table.put(encodeMain(next), { ifMatch: { version: record.version } })) {
      this.#emit('approval.expired', 'INFO', requestId, next, { approvals: next.approvals })
    }
  }

  /** Best effort: a decided request leaves the approvers' listing (the list skips it anyway). */
  async #unlist(record: ApprovalRecord): Promise<void> {
    await this.deps.table.delete(indexPartition(record.approvers), record.id).catch(() => false)
  }

  #emit(
    event: string,
    level: 'INFO' | 'WARN',
    requestId: string,
    record: ApprovalRecord,
    fields: Record<string, unknown>,
  ): void {
    this.deps.audit.emit({
      event,
      level,
      request_id: requestId,
      time: new Date(this.deps.now()).toISOString(),
      approval_id: record.id,
      policy: record.policy,
      ...fields,
    })
  }
}

/** Why this approver may not decide this request now (undefined: they may). */
export function mayDecide(
  record: ApprovalRecord,
  approver: Approver,
  now: number,
): AccessDenied | ApprovalNotFound | ApprovalConflict | undefined {
  if (record.deadline * 1000 <= now) return new ApprovalNotFound()
  if (record.approvers !== approver.policy)
    return new AccessDenied('this approval request is not for approvers of your policy', 403)
  const { sub, actorSub } = record.requester
  if (approver.sub === sub || approver.sub === actorSub)
    return new AccessDenied('a requester cannot decide their own request', 403)
  if (record.status !== 'pending') return new ApprovalConflict(`the request is already ${record.status}`)
  if (record.approvals.includes(approver.sub))
    return new ApprovalConflict('you have already approved this request')
  return undefined
}

function applyDecision(record: ApprovalRecord, sub: string, decision: 'approve' | 'deny'): ApprovalRecord {
  const version = record.version + 1
  if (decision === 'deny') return { ...record, status: 'denied', deniedBy: sub, version }
  const approvals = [...record.approvals, sub]
  const status = approvals.length >= record.minApprovals ? 'approved' : 'pending'
  return { ...record, approvals, status, version }
}

function listed(r: ApprovalRecord): ListedApproval {
  return {
    id: r.id,
    policy: r.policy,
    requester: { provider: r.requester.provider, sub: r.requester.sub },
    grant: r.grant,
    reason: r.reason ?? null,
    requested_at: new Date(r.requestedAt).toISOString(),
    expires_at: new Date(r.deadline * 1000).toISOString(),
    approvals: r.approvals,
  }
}

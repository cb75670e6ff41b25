import * as z from 'zod'
import { StoreUnavailable } from '../errors.js'
import type { StateItem } from '../store/types.js'

/** Where an approval request stands; `expired` is recorded once a poll sees the deadline pass. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired'

/** Who asked: the verified subject (and, for delegation, the actor acting for it). */
export interface Requester {
  readonly provider: string
  readonly sub: string
  /** The actor's `sub` when the request was delegated; never allowed to approve it either. */
  readonly actorSub?: string | undefined
}

/** One approval request as stored (the main item, `approval#<id>`). Times: `requestedAt` ms, `deadline` s. */
export interface ApprovalRecord {
  readonly id: string
  /** The policy whose grant waits for approval. */
  readonly policy: string
  /** The policy whose tokens (scope tessera:approve) may decide it. */
  readonly approvers: string
  readonly minApprovals: number
  readonly requester: Requester
  /** What the grant would give, for display (never a secret). */
  readonly grant: Readonly<Record<string, unknown>>
  readonly reason?: string | undefined
  readonly requestedAt: number
  /** Epoch seconds after which it can no longer be approved. */
  readonly deadline: number
  readonly status: ApprovalStatus
  /** The `sub` of every approver so far, in order. */
  readonly approvals: readonly string[]
  readonly deniedBy?: string | undefined
  /** Optimistic-concurrency counter: every write is conditional on the version it read. */
  readonly version: number
  /** What the exchange needs to mint once approved (opaque here; JSON). */
  readonly payload: unknown
}

/** The requester's polling state (`approval-handle#<sha256(auth_req_id)>`); apart so polls never race decisions. */
export interface HandleRecord {
  readonly hash: string
  readonly id: string
  /** Epoch ms of the previous poll (the request itself counts as the first). */
  readonly lastPollAt: number
  /** Seconds the requester must wait between polls; grows by 5 on each slow_down. */
  readonly interval: number
  readonly redeemed: boolean
  readonly version: number
}

/** An expired request keeps answering expired_token this long after its deadline (seconds). */
export const EXPIRED_ANSWER_S = 600

export const mainKey = (id: string) => ({ pk: `approval#${id}`, sk: '-' })
export const handleKey = (hash: string) => ({ pk: `approval-handle#${hash}`, sk: '-' })
/** Index for `GET /approvals`: one item per request under the approvers' policy. */
export const indexPartition = (approvers: string) => `approvals#${approvers}`

const JsonTextSchema = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' })
    return z.NEVER
  }
})

const MainAttrsSchema = z.object({
  id: z.string().min(1),
  policy: z.string().min(1),
  approvers: z.string().min(1),
  minApprovals: z.number().int().min(1),
  provider: z.string(),
  sub: z.string(),
  actorSub: z.string().optional(),
  grant: JsonTextSchema.pipe(z.record(z.string(), z.unknown())),
  reason: z.string().optional(),
  requestedAt: z.number().int(),
  deadline: z.number().int(),
  status: z.enum(['pending', 'approved', 'denied', 'expired']),
  approvals: JsonTextSchema.pipe(z.array(z.string())),
  deniedBy: z.string().optional(),
  version: z.number().int(),
  payload: JsonTextSchema,
})

const HandleAttrsSchema = z.object({
  id: z.string().min(1),
  lastPollAt: z.number().int(),
  interval: z.number().int().min(1),
  redeemed: z.boolean(),
  version: z.number().int(),
})

/** The store item of a request; it outlives the deadline by EXPIRED_ANSWER_S. */
export function encodeMain(r: ApprovalRecord): StateItem {
  return {
    ...mainKey(r.id),
    expiresAt: r.deadline + EXPIRED_ANSWER_S,
    attrs: {
      id: r.id,
      policy: r.policy,
      approvers: r.approvers,
      minApprovals: r.minApprovals,
      provider: r.requester.provider,
      sub: r.requester.sub,
      ...(r.requester.actorSub === undefined ? {} : { actorSub: r.requester.actorSub }),
      grant: JSON.stringify(r.grant),
      ...(r.reason === undefined ? {} : { reason: r.reason }),
      requestedAt: r.requestedAt,
      deadline: r.deadline,
      status: r.status,
      approvals: JSON.stringify(r.approvals),
      ...(r.deniedBy === undefined ? {} : { deniedBy: r.deniedBy }),
      version: r.version,
      payload: JSON.stringify(r.payload ?? null),
    },
  }
}

/** Reads a main item back; anything we did not write ourselves is a store fault. */
export function decodeMain(item: StateItem): ApprovalRecord {
  const parsed = MainAttrsSchema.safeParse(item.attrs)
  if (!parsed.success) throw new StoreUnavailable('approval item is malformed')
  const { provider, sub, actorSub, ...rest } = parsed.data
  return { ...rest, requester: { provider, sub, ...(actorSub === undefined ? {} : { actorSub }) } }
}

export function encodeHandle(h: HandleRecord, deadline: number): StateItem {
  return {
    ...handleKey(h.hash),
    expiresAt: deadline + EXPIRED_ANSWER_S,
    attrs: {
      id: h.id,
      lastPollAt: h.lastPollAt,
      interval: h.interval,
      redeemed: h.redeemed,
      version: h.version,
    },
  }
}

export function decodeHandle(hash: string, item: StateItem): HandleRecord & { readonly expiresAt: number } {
  const parsed = HandleAttrsSchema.safeParse(item.attrs)
  if (!parsed.success || item.expiresAt === undefined)
    throw new StoreUnavailable('approval handle item is malformed')
  return { hash, ...parsed.data, expiresAt: item.expiresAt }
}

import { tokenHash } from '../assertion/token-hash.js'
import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  InvalidGrant,
  SlowDown,
  TemporarilyUnavailable,
} from '../errors.js'
import {
  type ApprovalRecord,
  decodeHandle,
  EXPIRED_ANSWER_S,
  encodeHandle,
  type HandleRecord,
  handleKey,
} from './approval-item.js'
import type { Approvals } from './approvals.js'

/** How much a `slow_down` adds to the handle's interval (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP_S = 5
const MAX_ROUNDS = 8
/** 32 random bytes, base64url without padding. */
const AUTH_REQ_ID_FORMAT = /^[A-Za-z0-9_-]{43}$/

/** An approved request whose handle this poll has just redeemed: mint now, exactly once. */
export interface Redeemed {
  readonly record: ApprovalRecord
  readonly handle: HandleRecord
}

/**
 * One CIBA poll. Answers by throwing: `slow_down` (too soon after the previous poll; the interval
 * grows by 5 s and is enforced), `authorization_pending`, `access_denied`, `expired_token`, or
 * `invalid_grant` (unknown handle, or already redeemed). An approved request returns once: the
 * redemption is a conditional write, so of racing polls exactly one gets it. The timeout bounds the
 * decision, not the pickup: an approval that landed in time can be redeemed while the request is
 * kept (EXPIRED_ANSWER_S past the deadline), so a requester mid-interval does not lose it.
 */
export async function pollApproval(
  approvals: Approvals,
  authReqId: string,
  requestId: string,
  /** Throws to refuse this poll an approved request without redeeming it (the handle stays live). */
  accept: (record: ApprovalRecord) => void = () => undefined,
): Promise<Redeemed> {
  if (!AUTH_REQ_ID_FORMAT.test(authReqId)) throw new InvalidGrant('auth_req_id is not one this broker issued')
  const hash = tokenHash(authReqId)
  const { table, now } = approvals.deps
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const key = handleKey(hash)
    const item = await table.get(key.pk, key.sk)
    if (!item) throw new InvalidGrant('auth_req_id is unknown or no longer valid')
    const handle = decodeHandle(hash, item)
    if (handle.redeemed) throw new InvalidGrant('auth_req_id has already been used')
    const at = now()
    const tooSoon = at < handle.lastPollAt + handle.interval * 1000
    const polled: HandleRecord = {
      ...handle,
      lastPollAt: at,
      interval: tooSoon ? handle.interval + SLOW_DOWN_STEP_S : handle.interval,
      version: handle.version + 1,
    }
    const deadline = handle.expiresAt - EXPIRED_ANSWER_S
    // `redeemed: false` too: a redemption writes a version a concurrent poll may also have read.
    const unchanged = { version: handle.version, redeemed: false }
    if (!(await table.put(encodeHandle(polled, deadline), { ifMatch: unchanged }))) continue
    if (tooSoon) throw new SlowDown(polled.interval)

    const record = await approvals.get(handle.id)
    if (!record) throw new InvalidGrant('auth_req_id is unknown or no longer valid')
    if (record.status === 'denied') throw new AccessDenied('an approver denied the request')
    if (record.status === 'expired' || (record.status === 'pending' && record.deadline * 1000 <= at)) {
      await approvals.expire(record, requestId)
      throw new ExpiredToken('the approval request expired before enough approvers approved it')
    }
    if (record.status === 'pending') {
      throw new AuthorizationPending('waiting for approval', {
        expires_in: Math.max(0, record.deadline - Math.floor(at / 1000)),
        interval: polled.interval,
      })
    }
    accept(record)
    // Conditional on `redeemed` only: a concurrent too-early poll (which bumps the version) must
    // not take the credential away from the poll that was on time, yet only one redemption lands.
    const redeemed: HandleRecord = { ...polled, redeemed: true, version: polled.version + 1 }
    if (await table.put(encodeHandle(redeemed, deadline), { ifMatch: { redeemed: false } })) {
      return { record, handle: redeemed }
    }
  }
  throw new TemporarilyUnavailable('the approval request is busy; poll again', 5)
}

/**
 * Gives a redeemed handle back when minting failed for a dependency outage, so the requester can
 * poll again instead of losing an approved request; only the redemption this poll made is undone.
 */
export async function releaseRedemption(approvals: Approvals, redeemed: Redeemed): Promise<void> {
  const { handle, record } = redeemed
  const back: HandleRecord = { ...handle, redeemed: false, version: handle.version + 1 }
  await approvals.deps.table
    .put(encodeHandle(back, record.deadline), { ifMatch: { version: handle.version } })
    .catch(() => false)
}

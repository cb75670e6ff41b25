import { createHash, timingSafeEqual } from 'node:crypto'
import type { AuditSink } from '../audit/types.js'
import { InvalidRequest, TemporarilyUnavailable } from '../errors.js'
import type { StateItem, StateTable } from '../store/types.js'

/** All bindings share one partition so `tessera instance list` can read them with one query. */
export const BINDING_PK = 'instance-binding'
/** After `tessera instance reset`, the instance may register anew (any pending_time) within this. */
export const RESET_GRACE_SECONDS = 3600
const MAX_ATTEMPTS = 5
const NONCE_RE = /^[A-Za-z0-9_-]{43}$/

/** What the verifier knows about the instance once its document is verified. */
export interface BindingRequest {
  readonly provider: string
  readonly instanceId: string
  readonly accountId: string
  readonly region: string
  /** The document's pendingTime, epoch seconds. */
  readonly pendingTime: number
  /** The TOFU nonce as presented (validated here). */
  readonly nonce: string
  /** Epoch seconds. */
  readonly now: number
  readonly requestId: string
  /** Seconds after pending_time during which a first registration is allowed; 0 = no limit. */
  readonly registrationWindow: number
  /** Seconds a binding lives after its last use. */
  readonly lifetime: number
}

/** One binding as `tessera instance list` shows it. */
export interface InstanceBinding {
  readonly instanceId: string
  readonly provider: string
  readonly accountId: string
  readonly region: string
  readonly firstSeen: number
  readonly lastSeen: number
  readonly pendingTime: number
  readonly exchanges: number
  readonly cloneAlerts: number
  readonly expiresAt: number | undefined
  /** True for a reset marker (no nonce registered yet). */
  readonly reset: boolean
}

/** Checks the TOFU nonce format: 32 random bytes, base64url without padding. */
export function assertNonceFormat(nonce: string | undefined): string {
  if (
    nonce === undefined ||
    !NONCE_RE.test(nonce) ||
    Buffer.from(nonce, 'base64url').toString('base64url') !== nonce
  ) {
    throw new InvalidRequest('the instance nonce must be 32 random bytes, base64url-encoded without padding')
  }
  return nonce
}

const hashNonce = (nonce: string) => createHash('sha256').update(nonce).digest('base64url')

/**
 * Trust on first use: registers the nonce's hash for an unseen instance (conditional write, one
 * winner), then demands the same nonce on every later exchange (constant-time compare). A different
 * nonce raises `instance.clone_suspected` (WARN) and is refused; so is an older pending_time.
 */
export async function bindInstance(table: StateTable, audit: AuditSink, req: BindingRequest): Promise<void> {
  const nonceHash = hashNonce(assertNonceFormat(req.nonce))
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await table.get(BINDING_PK, req.instanceId)
    if (!current || current.attrs.state === 'reset') {
      if (!current && req.registrationWindow > 0 && req.now - req.pendingTime > req.registrationWindow) {
        throw new InvalidRequest(
          'this instance is not registered and its document is older than the registration window; an operator can run `tessera instance reset`',
        )
      }
      const condition = current ? { ifMatch: { state: 'reset' } } : ({ ifAbsent: true } as const)
      if (await table.put(newBinding(req, nonceHash), condition)) {
        audit.emit({ event: 'instance.registered', level: 'INFO', request_id: req.requestId, ...ids(req) })
        return
      }
      continue // lost the race: re-read and compare with the winner's nonce
    }
    const stored = Buffer.from(String(current.attrs.nonceHash), 'base64url')
    const presented = Buffer.from(nonceHash, 'base64url')
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
      await recordCloneAlert(table, current)
      audit.emit({
        event: 'instance.clone_suspected',
        level: 'WARN',
        request_id: req.requestId,
        ...ids(req),
        nonce_sha256: nonceHash,
        reason: 'nonce_mismatch',
      })
      throw new InvalidRequest(
        'this instance is bound to a different instance nonce (possible clone); refused',
      )
    }
    const registeredPending = Number(current.attrs.pendingTime)
    if (req.pendingTime < registeredPending) {
      throw new InvalidRequest('the instance identity document is older than the one already registered')
    }
    const updated: StateItem = {
      pk: BINDING_PK,
      sk: req.instanceId,
      expiresAt: req.now + req.lifetime,
      attrs: {
        ...current.attrs,
        pendingTime: req.pendingTime,
        lastSeen: req.now,
        exchanges: Number(current.attrs.exchanges ?? 0) + 1,
        version: Number(current.attrs.version ?? 0) + 1,
      },
    }
    if (await table.put(updated, { ifMatch: { version: Number(current.attrs.version ?? 0) } })) return
    // A concurrent exchange of this instance updated the binding first. Only a pending_time that
    // moves forward must be stored (so older documents are refused later); lastSeen and the
    // counter are bookkeeping the winner already did, so the verified exchange goes on.
    if (req.pendingTime === registeredPending) return
  }
  throw new TemporarilyUnavailable('instance binding is contended; retry')
}

function newBinding(req: BindingRequest, nonceHash: string): StateItem {
  return {
    pk: BINDING_PK,
    sk: req.instanceId,
    expiresAt: req.now + req.lifetime,
    attrs: {
      state: 'bound',
      nonceHash,
      provider: req.provider,
      accountId: req.accountId,
      region: req.region,
      pendingTime: req.pendingTime,
      firstSeen: req.now,
      lastSeen: req.now,
      exchanges: 1,
      cloneAlerts: 0,
      version: 1,
    },
  }
}

const ids = (req: BindingRequest) => ({
  provider: req.provider,
  instance_id: req.instanceId,
  account_id: req.accountId,
  region: req.region,
})

/** Best effort: counts the alert on the binding (a lost race only loses one count). */
async function recordCloneAlert(table: StateTable, current: StateItem): Promise<void> {
  const version = Number(current.attrs.version ?? 0)
  await table.put(
    {
      ...current,
      attrs: {
        ...current.attrs,
        cloneAlerts: Number(current.attrs.cloneAlerts ?? 0) + 1,
        version: version + 1,
      },
    },
    { ifMatch: { version } },
  )
}

/** Every binding (and reset marker), for `tessera instance list`. */
export async function listBindings(table: StateTable): Promise<InstanceBinding[]> {
  const items = await table.query(BINDING_PK)
  return items.map((i) => ({
    instanceId: i.sk,
    provider: String(i.attrs.provider ?? ''),
    accountId: String(i.attrs.accountId ?? ''),
    region: String(i.attrs.region ?? ''),
    firstSeen: Number(i.attrs.firstSeen ?? 0),
    lastSeen: Number(i.attrs.lastSeen ?? 0),
    pendingTime: Number(i.attrs.pendingTime ?? 0),
    exchanges: Number(i.attrs.exchanges ?? 0),
    cloneAlerts: Number(i.attrs.cloneAlerts ?? 0),
    expiresAt: i.expiresAt,
    reset: i.attrs.state === 'reset',
  }))
}

/**
 * Forgets an instance's nonce: the next exchange registers afresh (within RESET_GRACE_SECONDS,
 * whatever its pending_time). Returns false when no binding existed. Audited by the caller.
 */
export async function resetBinding(
  table: StateTable,
  instanceId: string,
  nowSeconds: number,
): Promise<boolean> {
  const existed = (await table.get(BINDING_PK, instanceId)) !== undefined
  await table.put({
    pk: BINDING_PK,
    sk: instanceId,
    expiresAt: nowSeconds + RESET_GRACE_SECONDS,
    attrs: { state: 'reset', resetAt: nowSeconds, version: 0 },
  })
  return existed
}

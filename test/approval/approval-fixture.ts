import { type ApprovalDeps, Approvals, type NewApproval } from '../../lib/approval/approvals.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import type { ApprovalConfig } from '../../lib/config/schema.js'
import type { StateItem, StateTable, WriteCondition } from '../../lib/store/types.js'
import type { StoreKind } from '../instance/stores.js'

export const T0 = Date.parse('2026-12-06T12:00:00Z')

/** A real table that also remembers every item written to it (to prove what is never stored). */
export class RecordingTable implements StateTable {
  readonly written: StateItem[] = []
  constructor(private readonly inner: StateTable) {}
  put(item: StateItem, condition?: WriteCondition) {
    this.written.push(item)
    return this.inner.put(item, condition)
  }
  get(pk: string, sk: string) {
    return this.inner.get(pk, sk)
  }
  delete(
    pk: string,
    sk: string,
    condition?: { readonly ifMatch: Readonly<Record<string, string | number | boolean>> },
  ) {
    return this.inner.delete(pk, sk, condition)
  }
  query(pk: string) {
    return this.inner.query(pk)
  }
  increment(...args: Parameters<StateTable['increment']>) {
    return this.inner.increment(...args)
  }
  merge(...args: Parameters<StateTable['merge']>) {
    return this.inner.merge(...args)
  }
}

export const approvalConfig = (o: Partial<ApprovalConfig> = {}): ApprovalConfig => ({
  approvers: { policy: 'secops' },
  minApprovals: 1,
  timeout: 600,
  ...o,
})

let seq = 0

/** Two broker instances (A and B) over one shared store, with one clock; unique subjects per call. */
export function approvalSetup(store: StoreKind, deps: Partial<ApprovalDeps> = {}) {
  const clock = { ms: T0 }
  const now = () => clock.ms
  const shared = store.open(now)
  const tableA = new RecordingTable(shared)
  const tableB = store.name === 'memory' ? tableA : new RecordingTable(store.open(now))
  const audit = new MemoryAuditSink()
  const fetch: typeof globalThis.fetch = async () => new Response(null, { status: 204 })
  const a = new Approvals({ table: tableA, audit, now, fetch, ...deps })
  const b = new Approvals({ table: tableB, audit, now, fetch, ...deps })
  const n = ++seq
  const requester = `agent-${n}-${Math.random().toString(36).slice(2)}`
  const create = (o: Partial<NewApproval> = {}, approval: Partial<ApprovalConfig> = {}) =>
    a.create({
      policy: 'agent-prod-logs',
      approval: approvalConfig(approval),
      requester: { provider: 'agents', sub: requester },
      grant: { audience: ['https://logs.example.com'], scope: 'logs:read', ttl: 900 },
      reason: 'incident 42',
      payload: { secret: 'not-really', n },
      requestId: 'req-create',
      ...o,
    })
  const approver = (sub: string, policy = 'secops') => ({ policy, sub: `${sub}-${n}`, idp: 'corp-sso' })
  return { clock, a, b, audit, tableA, tableB, create, approver, requester }
}

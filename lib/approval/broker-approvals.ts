import type { Broker } from '../broker.js'
import { Approvals } from './approvals.js'

const perBroker = new WeakMap<Broker, Approvals>()

/** The approval requests of a broker, over its state table and audit sink (built once per broker). */
export function approvalsOf(broker: Broker, fetch: typeof globalThis.fetch = globalThis.fetch): Approvals {
  let approvals = perBroker.get(broker)
  if (!approvals) {
    approvals = new Approvals({ table: broker.table, audit: broker.audit, now: broker.now, fetch })
    perBroker.set(broker, approvals)
  }
  return approvals
}

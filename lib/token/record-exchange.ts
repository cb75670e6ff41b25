import { tokenHash } from '../assertion/token-hash.js'
import type { VerifiedSubject } from '../assertion/types.js'
import type { Broker } from '../broker.js'
import type { Minted } from '../credentials/minter.js'
import { AuthorizationPending, DependencyThrottled, TemporarilyUnavailable } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpResponse } from '../http/types.js'
import { grantedItems, instanceIdOf } from '../inventory/granted-items.js'
import type { PolicyTrace, ResolvedGrant } from '../policy/types.js'
import { exchangeEvent } from './audit-event.js'

/** What is known about an exchange when a step runs: what its audit event records should the step fail. */
export interface ExchangeFacts {
  readonly subjectTokenType?: string | undefined
  /** Hashed for the audit event only when the exchange fails before a subject is verified. */
  readonly subjectToken?: string | undefined
  readonly subject?: VerifiedSubject | undefined
  readonly trace?: readonly PolicyTrace[] | undefined
  readonly policy?: string | undefined
  /** The grant as resolved for this request (what the inventory records as used). */
  readonly grant?: ResolvedGrant | undefined
}

/** Audits and counts one exchange: every path ends in exactly one audit event and one outcome. */
export interface ExchangeRecord {
  /** Runs one step; a failure is audited with `facts`, counted, and rethrown. */
  step<T>(facts: ExchangeFacts, work: () => T | Promise<T>): Promise<T>
  /** Audits the allowed exchange and answers with the minted body. */
  allowed(facts: ExchangeFacts, minted: Minted): HttpResponse
}

/** Starts the record of one exchange at the broker's current time. */
export function startExchangeRecord(broker: Broker, requestId: string, sourceIp = ''): ExchangeRecord {
  const startedAt = broker.now()
  const outcome = (facts: ExchangeFacts, now: number) => ({
    requestId,
    startedAt,
    now,
    subjectTokenType: facts.subjectTokenType,
    subject: facts.subject,
    trace: facts.trace,
    policy: facts.policy,
  })
  const finish = (result: 'allowed' | 'denied' | 'error', now: number) => {
    broker.metrics.count('exchanges', { outcome: result })
    broker.metrics.timing('latency', now - startedAt, { outcome: result })
    broker.metrics.flush()
  }
  return {
    async step(facts, work) {
      try {
        return await work()
      } catch (error) {
        const now = broker.now()
        const rawTokenHash =
          facts.subject === undefined && facts.subjectToken !== undefined
            ? tokenHash(facts.subjectToken)
            : undefined
        broker.audit.emit(exchangeEvent({ ...outcome(facts, now), rawTokenHash, error }))
        // Whichever step met it: KMS, STS, the store or GitHub at its request quota.
        if (error instanceof DependencyThrottled) broker.metrics.count('throttles')
        const unavailable = error instanceof TemporarilyUnavailable
        // A grant held for approval was not refused: the identity's usage counts it when it is minted.
        const held = error instanceof AuthorizationPending
        if (facts.subject && !unavailable && !held) broker.usage?.denied(facts.subject)
        finish(unavailable ? 'error' : 'denied', now)
        throw error
      }
    },
    allowed(facts, minted) {
      const now = broker.now()
      broker.audit.emit(exchangeEvent({ ...outcome(facts, now), granted: minted.granted }))
      if (facts.subject && facts.policy !== undefined && facts.grant) {
        broker.usage?.allowed({
          provider: facts.subject.provider,
          sub: facts.subject.sub,
          policy: facts.policy,
          granted: grantedItems(facts.grant),
          sourceIp,
          instanceId: instanceIdOf(facts.subject),
        })
      }
      finish('allowed', now)
      return jsonResponse(200, minted.body, requestId)
    },
  }
}

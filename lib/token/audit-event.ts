import type { VerifiedSubject } from '../assertion/types.js'
import type { AuditEvent } from '../audit/types.js'
import { BrokerError, TooManyRequests } from '../errors.js'
import type { PolicyTrace } from '../policy/types.js'

/** Per policy, why it did not apply: names of failed claims and matcher kinds, never patterns or values. */
export function summariseTrace(trace: readonly PolicyTrace[]): unknown[] {
  return trace.map((t) => ({
    policy: t.policy,
    subject: t.subjectMatched,
    target: t.targetMatched,
    scope: t.scopeMatched,
    failed: t.checks.filter((c) => !c.ok).map((c) => `${c.claim}:${c.matcher}:${c.reason ?? 'no-match'}`),
  }))
}

export interface ExchangeOutcome {
  readonly requestId: string
  readonly startedAt: number
  readonly now: number
  readonly subjectTokenType?: string | undefined
  readonly rawTokenHash?: string | undefined
  readonly subject?: VerifiedSubject | undefined
  readonly trace?: readonly PolicyTrace[] | undefined
  readonly policy?: string | undefined
  readonly granted?: Readonly<Record<string, unknown>> | undefined
  readonly error?: unknown
}

/** Builds the one audit event of an exchange (allowed or denied). */
export function exchangeEvent(o: ExchangeOutcome): AuditEvent {
  const base = {
    request_id: o.requestId,
    time: new Date(o.now).toISOString(),
    duration_ms: o.now - o.startedAt,
    subject_token_type: o.subjectTokenType,
    token_sha256: o.subject?.tokenHash ?? o.rawTokenHash,
    provider: o.subject?.provider,
    issuer: o.subject?.issuer,
    sub: o.subject?.sub,
    policy: o.policy,
    policies: o.trace ? summariseTrace(o.trace) : undefined,
  }
  if (o.error === undefined) return { event: 'token.exchange', level: 'INFO', ...base, ...o.granted }
  const e = o.error instanceof BrokerError ? o.error : undefined
  // Over a per-identity rate limit: an alert (a workload looping, or a stolen identity), not a decision.
  const limited = e instanceof TooManyRequests
  return {
    event: limited ? 'token.rate_limited' : 'token.denied',
    level: limited ? 'WARN' : e && e.status < 500 ? 'INFO' : 'ERROR',
    ...base,
    error: e?.code ?? 'server_error',
    status: e?.status ?? 500,
    reason: e ? (e.detail ?? e.message) : String((o.error as Error)?.message ?? o.error),
  }
}

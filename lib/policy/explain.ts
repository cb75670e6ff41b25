import type { CompiledPolicies } from './compile.js'
import { decide } from './evaluate.js'
import type { Decision, PolicyRequest, PolicyTrace } from './types.js'

/**
 * Evaluates every policy of the request's provider (not only the indexed candidates) and records
 * the claim value each check saw. For operators (`tessera policy explain`), never for the audit log.
 */
export function explain(
  compiled: CompiledPolicies,
  request: PolicyRequest,
): { decision: Decision; traces: PolicyTrace[] } {
  const decision = decide(compiled, request, true)
  return { decision, traces: [...decision.trace] }
}

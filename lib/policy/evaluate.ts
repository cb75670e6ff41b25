import { lookupClaim } from './claims.js'
import type { CompiledPolicies, CompiledPolicy, ProviderPolicies } from './compile.js'
import {
  grantKindMismatch,
  NO_POLICY_MATCHES,
  noGrantForTarget,
  SEVERAL_POLICIES_MATCH,
  scopeNotGranted,
} from './format-denial.js'
import type { ClaimCheck, Decision, GrantKind, PolicyRequest, PolicyTrace, ResolvedGrant } from './types.js'

const NONE: readonly never[] = Object.freeze([])

/** Order-preserving union without duplicates (a Set keeps hostile request sizes linear). */
function unique(a: readonly string[], b: readonly string[] = NONE): readonly string[] {
  if (a.length + b.length === 0) return NONE
  const set = new Set(a)
  for (const x of b) set.add(x)
  return [...set]
}

/** The smallest index bucket among the requested targets: only these policies can offer them all. */
function narrowest(group: ProviderPolicies, targets: readonly string[]): readonly CompiledPolicy[] {
  let best: readonly CompiledPolicy[] | undefined
  for (const target of targets) {
    const bucket = group.byTarget.get(target)
    if (bucket === undefined) return NONE
    if (best === undefined || bucket.length < best.length) best = bucket
  }
  return best ?? NONE
}

function offersAll(policy: CompiledPolicy, targets: readonly string[]): boolean {
  for (const target of targets) if (!policy.targetSet.has(target)) return false
  return true
}

function coversScopes(policy: CompiledPolicy, scopes: readonly string[] | undefined): boolean {
  if (scopes === undefined) return true
  for (const scope of scopes) if (!policy.scopeSet.has(scope)) return false
  return true
}

/** Runs every check (no short-circuit) so the trace says which matchers failed. */
function runChecks(policy: CompiledPolicy, claims: unknown, withValues: boolean, out: ClaimCheck[]): boolean {
  let all = true
  for (const check of policy.checks) {
    const value = lookupClaim(claims, check.claim)
    const reason = check.test(value)
    const ok = reason === undefined
    if (!ok) all = false
    const base = { claim: check.claim.name, matcher: check.kind, ok, reason }
    out.push(withValues ? { ...base, value } : base)
  }
  return all
}

function resolveGrant(
  policy: CompiledPolicy,
  targets: readonly string[],
  scopes: readonly string[] | undefined,
): ResolvedGrant {
  if (policy.aws) return policy.aws
  return {
    kind: 'token',
    audience: targets.length > 0 ? targets : policy.targets,
    scopes: scopes ?? policy.scopes,
    ttl: policy.ttl,
    ...(policy.config.grant.token?.dpop === 'required' ? { dpop: 'required' } : {}),
  }
}

/**
 * The decision core shared by evaluate (indexed candidates, stops once decided, no claim values)
 * and explain (every policy of the provider, claim values included). Both reach the same decision:
 * a policy outside the index bucket can never offer every requested target.
 */
export function decide(compiled: CompiledPolicies, request: PolicyRequest, everyPolicy: boolean): Decision {
  const targets = unique(request.audiences, request.resources)
  const scopes = request.scopes === undefined ? undefined : unique(request.scopes)
  const group = compiled.byProvider.get(request.provider)
  let candidates: readonly CompiledPolicy[] = NONE
  if (group !== undefined)
    candidates = everyPolicy || targets.length === 0 ? group.all : narrowest(group, targets)

  const trace: PolicyTrace[] = []
  let firstMatch: CompiledPolicy | undefined // subject and target matched
  let firstMatchScopeOk = false
  let firstAllowed: CompiledPolicy | undefined // subject, target and scopes matched
  let matches = 0
  // Kinds offered by policies that match but grant another kind than requested_token_type asks for.
  const otherKinds = new Set<GrantKind>()
  for (const policy of candidates) {
    const kindOk = request.grantKinds === undefined || request.grantKinds.has(policy.grantKind)
    const offered = offersAll(policy, targets)
    const targetMatched = kindOk && offered
    const checks: ClaimCheck[] = []
    const subjectMatched = runChecks(policy, request.claims, everyPolicy, checks)
    const scopeMatched = coversScopes(policy, scopes)
    trace.push({ policy: policy.name, subjectMatched, targetMatched, scopeMatched, checks })
    if (subjectMatched && offered && !kindOk) otherKinds.add(policy.grantKind)
    if (!subjectMatched || !targetMatched) continue
    matches++
    if (firstMatch === undefined) {
      firstMatch = policy
      firstMatchScopeOk = scopeMatched
    }
    if (scopeMatched && firstAllowed === undefined) firstAllowed = policy
    if (everyPolicy) continue
    if (targets.length > 0 ? firstAllowed !== undefined : matches > 1) break
  }

  const { audiences, resources } = request
  const deny = (error: 'invalid_target' | 'invalid_scope', message: string): Decision => ({
    allow: false,
    error,
    message,
    trace,
  })
  const allow = (policy: CompiledPolicy): Decision => ({
    allow: true,
    policy: policy.name,
    grant: resolveGrant(policy, targets, scopes),
    trace,
  })
  if (targets.length > 0) {
    if (firstAllowed) return allow(firstAllowed)
    if (matches > 0) return deny('invalid_scope', scopeNotGranted(scopes ?? NONE, audiences, resources))
    if (otherKinds.size > 0)
      return deny('invalid_target', grantKindMismatch(audiences, resources, request.grantKinds, otherKinds))
    return deny('invalid_target', noGrantForTarget(audiences, resources))
  }
  // No target requested: only an unambiguous subject match may answer.
  if (matches === 0 || firstMatch === undefined) return deny('invalid_target', NO_POLICY_MATCHES)
  if (matches > 1) return deny('invalid_target', SEVERAL_POLICIES_MATCH)
  if (!firstMatchScopeOk) return deny('invalid_scope', scopeNotGranted(scopes ?? NONE, audiences, resources))
  return allow(firstMatch)
}

/** Decides a request against the compiled policies: pure, never throws, deny by default. */
export function evaluate(compiled: CompiledPolicies, request: PolicyRequest): Decision {
  return decide(compiled, request, false)
}

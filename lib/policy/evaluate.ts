import { lookupClaim } from './claims.js'
import type { CompiledCheck, CompiledPolicies, CompiledPolicy, ProviderPolicies } from './compile.js'
import {
  grantKindMismatch,
  NO_POLICY_MATCHES,
  noGrantForTarget,
  SEVERAL_POLICIES_MATCH,
  scopeNotGranted,
} from './format-denial.js'
import { githubCoversScopes, githubOffers, parentUrl, resolveGithubGrant } from './github-target.js'
import type { ClaimCheck, Decision, GrantKind, PolicyRequest, PolicyTrace, ResolvedGrant } from './types.js'

const NONE: readonly never[] = Object.freeze([])

/** Order-preserving union without duplicates (a Set keeps hostile request sizes linear). */
function unique(a: readonly string[], b: readonly string[] = NONE): readonly string[] {
  if (a.length + b.length === 0) return NONE
  const set = new Set(a)
  for (const x of b) set.add(x)
  return [...set]
}

/** Policies offering `target`: the exact index, plus `["*"]` github grants of the owner it names. */
function bucketOf(group: ProviderPolicies, target: string): readonly CompiledPolicy[] | undefined {
  const exact = group.byTarget.get(target)
  const parent = group.byGithubOwner.size > 0 ? parentUrl(target) : undefined
  const wildcard = parent === undefined ? undefined : group.byGithubOwner.get(parent)
  if (wildcard === undefined) return exact
  if (exact === undefined) return wildcard
  // Both: keep config order, which decides between policies.
  return [...exact, ...wildcard].sort((a, b) => a.index - b.index)
}

/** The smallest index bucket among the requested targets: only these policies can offer them all. */
function narrowest(group: ProviderPolicies, targets: readonly string[]): readonly CompiledPolicy[] {
  let best: readonly CompiledPolicy[] | undefined
  for (const target of targets) {
    const bucket = bucketOf(group, target)
    if (bucket === undefined) return NONE
    if (best === undefined || bucket.length < best.length) best = bucket
  }
  return best ?? NONE
}

function offersAll(policy: CompiledPolicy, targets: readonly string[]): boolean {
  const github = policy.github
  for (const target of targets) {
    if (github ? !githubOffers(github, target) : !policy.targetSet.has(target)) return false
  }
  return true
}

function coversScopes(policy: CompiledPolicy, scopes: readonly string[] | undefined): boolean {
  if (policy.github) return githubCoversScopes(policy.github, scopes)
  if (scopes === undefined) return true
  for (const scope of scopes) if (!policy.scopeSet.has(scope)) return false
  return true
}

/** Runs every check (no short-circuit) so the trace says which matchers failed. */
function runChecks(
  checks: readonly CompiledCheck[],
  claims: unknown,
  withValues: boolean,
  out: ClaimCheck[],
  prefix = '',
): boolean {
  let all = true
  for (const check of checks) {
    const value = lookupClaim(claims, check.claim)
    const reason = check.test(value)
    const ok = reason === undefined
    if (!ok) all = false
    const base = { claim: `${prefix}${check.claim.name}`, matcher: check.kind, ok, reason }
    out.push(withValues ? { ...base, value } : base)
  }
  return all
}

/**
 * Delegation is opt-in both ways: a policy with `actor:` needs an actor of its provider whose claims
 * hold, and a policy without one never answers a request that carries an actor. Actor checks appear
 * in the trace as `actor.<claim>`.
 */
function actorMatches(
  policy: CompiledPolicy,
  actor: PolicyRequest['actor'],
  withValues: boolean,
  out: ClaimCheck[],
): boolean {
  if (!policy.actor) {
    if (actor === undefined) return true
    out.push({ claim: 'actor', matcher: 'exact', ok: false, reason: 'no-match' })
    return false
  }
  if (!actor || actor.provider !== policy.actor.provider) {
    out.push({ claim: 'actor', matcher: 'exact', ok: false, reason: 'missing' })
    return false
  }
  return runChecks(policy.actor.checks, actor.claims, withValues, out, 'actor.')
}

function resolveGrant(
  policy: CompiledPolicy,
  targets: readonly string[],
  scopes: readonly string[] | undefined,
): ResolvedGrant {
  if (policy.aws) return policy.aws
  if (policy.github) return resolveGithubGrant(policy.github, targets, scopes)
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
    const claimsMatched = runChecks(policy.checks, request.claims, everyPolicy, checks)
    const subjectMatched = actorMatches(policy, request.actor, everyPolicy, checks) && claimsMatched
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

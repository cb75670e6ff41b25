import type { GithubAppConfig } from '../config/github.js'
import type { Config, PolicyConfig } from '../config/schema.js'
import { PolicyCompileError } from '../errors.js'
import { type ClaimName, parseClaimName } from './claims.js'
import { type CompiledGithub, compileGithub } from './github-target.js'
import { guardrailViolations } from './guardrails.js'
import { compileMatcher, isMatcherProblem, type ValueTest } from './matchers.js'
import type { GrantKind, MatcherKind, ResolvedGrant } from './types.js'

/** One claim condition, precompiled. */
export interface CompiledCheck {
  readonly claim: ClaimName
  readonly kind: MatcherKind
  readonly test: ValueTest
}

/** One policy, precompiled; `index` is its position in the config (evaluation order). */
export interface CompiledPolicy {
  readonly index: number
  readonly name: string
  readonly provider: string
  readonly config: PolicyConfig
  readonly checks: readonly CompiledCheck[]
  readonly grantKind: GrantKind
  /** Targets the grant offers: a token grant's audiences, or an aws grant's role ARN. */
  readonly targets: readonly string[]
  readonly targetSet: ReadonlySet<string>
  /** A token grant's scopes; empty for an aws grant (which has none). */
  readonly scopes: readonly string[]
  readonly scopeSet: ReadonlySet<string>
  readonly ttl: number
  /** The resolved aws grant (request-independent), built once. */
  readonly aws: ResolvedGrant | undefined
  /** Delegation: the actor token's provider and conditions; absent = the policy takes no actor token. */
  readonly actor?: CompiledActor | undefined
  /** A github grant's selection data (owner and repository URLs, permissions). */
  readonly github?: CompiledGithub | undefined
}

/** A policy's `actor:`, precompiled. */
export interface CompiledActor {
  readonly provider: string
  readonly checks: readonly CompiledCheck[]
}

/** The policies of one provider, in config order and indexed by offered target. */
export interface ProviderPolicies {
  readonly all: readonly CompiledPolicy[]
  readonly byTarget: ReadonlyMap<string, readonly CompiledPolicy[]>
  /** github grants of `["*"]` by owner URL: they offer repository URLs the exact index cannot list. */
  readonly byGithubOwner: ReadonlyMap<string, readonly CompiledPolicy[]>
}

/** Policies compiled once at load; evaluate() and explain() read them. */
export interface CompiledPolicies {
  readonly byProvider: ReadonlyMap<string, ProviderPolicies>
  readonly all: readonly CompiledPolicy[]
}

type Path = (string | number)[]

function compileChecks(
  match: PolicyConfig['match'],
  path: Path,
  errors: PolicyCompileError[],
): CompiledCheck[] {
  const checks: CompiledCheck[] = []
  for (const [claim, spec] of Object.entries(match)) {
    const result = compileMatcher(spec)
    if (isMatcherProblem(result)) {
      errors.push(new PolicyCompileError([...path, claim, ...result.path], result.message))
    } else {
      checks.push({ claim: parseClaimName(claim), kind: result.kind, test: result.test })
    }
  }
  return checks
}

function duplicateAudiences(audience: string | readonly string[], path: Path, errors: PolicyCompileError[]) {
  if (typeof audience === 'string') return
  const seen = new Set<string>()
  audience.forEach((value, k) => {
    if (seen.has(value)) {
      errors.push(new PolicyCompileError([...path, k], `audience '${value}' is listed twice`))
    }
    seen.add(value)
  })
}

type GithubApps = ReadonlyMap<string, GithubAppConfig>

function compileOne(
  policy: PolicyConfig,
  index: number,
  errors: PolicyCompileError[],
  apps: GithubApps,
): CompiledPolicy | undefined {
  const checks = compileChecks(policy.match, ['policies', index, 'match'], errors)
  const actor = policy.actor && {
    provider: policy.actor.provider,
    checks: compileChecks(policy.actor.match, ['policies', index, 'actor', 'match'], errors),
  }
  const base = { index, name: policy.name, provider: policy.provider, config: policy, checks, actor }
  const { token, aws, github } = policy.grant
  if (token) {
    duplicateAudiences(token.audience, ['policies', index, 'grant', 'token', 'audience'], errors)
    // Frozen: resolved grants hand these arrays out without copying.
    const targets = Object.freeze(typeof token.audience === 'string' ? [token.audience] : [...token.audience])
    return {
      ...base,
      grantKind: 'token',
      targets,
      targetSet: new Set(targets),
      scopes: Object.freeze([...token.scopes]),
      scopeSet: new Set(token.scopes),
      ttl: token.ttl,
      aws: undefined,
    }
  }
  if (aws) {
    const grant: ResolvedGrant = Object.freeze({ kind: 'aws', ...aws })
    return {
      ...base,
      grantKind: 'aws',
      targets: Object.freeze([aws.roleArn]),
      targetSet: new Set([aws.roleArn]),
      scopes: Object.freeze([]),
      scopeSet: new Set(),
      ttl: aws.duration,
      aws: grant,
    }
  }
  if (github) {
    const app = apps.get(github.app)
    if (!app) {
      errors.push(
        new PolicyCompileError(
          ['policies', index, 'grant', 'github', 'app'],
          `no GitHub App named ${github.app} is configured under github.apps`,
        ),
      )
      return undefined
    }
    const compiled = compileGithub(github, app)
    return {
      ...base,
      grantKind: 'github',
      targets: compiled.targets,
      targetSet: new Set(compiled.targets),
      scopes: Object.freeze([]),
      scopeSet: new Set(),
      ttl: 0,
      aws: undefined,
      github: compiled,
    }
  }
  errors.push(
    new PolicyCompileError(
      ['policies', index, 'grant'],
      'a grant has exactly one of `token`, `aws` or `github`',
    ),
  )
  return undefined
}

function indexByProvider(policies: readonly CompiledPolicy[]): Map<string, ProviderPolicies> {
  type Group = {
    all: CompiledPolicy[]
    byTarget: Map<string, CompiledPolicy[]>
    byGithubOwner: Map<string, CompiledPolicy[]>
  }
  const byProvider = new Map<string, Group>()
  const add = (index: Map<string, CompiledPolicy[]>, key: string, policy: CompiledPolicy) => {
    const bucket = index.get(key)
    if (bucket) bucket.push(policy)
    else index.set(key, [policy])
  }
  for (const policy of policies) {
    let group = byProvider.get(policy.provider)
    if (!group) {
      group = { all: [], byTarget: new Map(), byGithubOwner: new Map() }
      byProvider.set(policy.provider, group)
    }
    group.all.push(policy)
    for (const target of policy.targetSet) add(group.byTarget, target, policy)
    if (policy.github && policy.github.repositories === undefined)
      add(group.byGithubOwner, policy.github.ownerUrl, policy)
  }
  return byProvider
}

/** Options for {@link compilePolicies}. */
export interface CompileOptions {
  /** Check the config's guardrails (default true); `policy explain` diagnoses without them. */
  readonly guardrails?: boolean
}

/**
 * Compiles the policies once at load. Collects every problem, guardrail violations included, and
 * throws `AggregateError<PolicyCompileError>('invalid policies')` when there is any.
 */
export function compilePolicies(
  config: Pick<Config, 'providers' | 'policies'> &
    Partial<Pick<Config, 'guardrails'>> & { readonly github?: Config['github'] },
  opts: CompileOptions = {},
): CompiledPolicies {
  const errors: PolicyCompileError[] = []
  if (opts.guardrails !== false) {
    for (const v of guardrailViolations(config))
      errors.push(new PolicyCompileError(v.path, v.message, v.rule))
  }
  const apps: GithubApps = new Map((config.github?.apps ?? []).map((a) => [a.name, a]))
  const providers = new Set(config.providers.map((p) => p.name))
  const firstByName = new Map<string, number>()
  const compiled: CompiledPolicy[] = []
  config.policies.forEach((policy, i) => {
    if (!providers.has(policy.provider)) {
      errors.push(
        new PolicyCompileError(['policies', i, 'provider'], `unknown provider '${policy.provider}'`),
      )
    }
    const first = firstByName.get(policy.name)
    if (first === undefined) firstByName.set(policy.name, i)
    else {
      errors.push(
        new PolicyCompileError(
          ['policies', i, 'name'],
          `duplicate policy name '${policy.name}' (also policies[${first}])`,
        ),
      )
    }
    const one = compileOne(policy, i, errors, apps)
    if (one) compiled.push(one)
  })
  if (errors.length > 0) throw new AggregateError(errors, 'invalid policies')
  return { byProvider: indexByProvider(compiled), all: compiled }
}

/** The compiled policies of one provider, in config order (empty when it has none). */
export function policiesOf(compiled: CompiledPolicies, provider: string): readonly CompiledPolicy[] {
  return compiled.byProvider.get(provider)?.all ?? []
}

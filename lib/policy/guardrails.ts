/**
 * Guardrails: ceilings a security team sets (top-level `guardrails:`, often its own file) that no
 * policy may exceed. Checked when policies compile, so `serve` and the Lambda functions refuse a
 * config beyond one, and `policy lint` reports each violation as a `guardrail-*` error.
 */
import { formatSeconds } from '../config/duration.js'
import type { Config, GuardrailsConfig, PolicyConfig, ProviderConfig } from '../config/schema.js'
import { PERMISSION_LEVELS } from '../config/schema.js'
import { isImmutableSegment } from './github-subject.js'
import { compileGlob, globNeedsRegexEngine, type StringTest } from './glob.js'
import { effectivePreset } from './lint-rules-context.js'
import { literalValues } from './lint-rules-skeleton.js'

/** One policy beyond one guardrail. */
export interface GuardrailViolation {
  readonly rule: string
  readonly path: readonly (string | number)[]
  readonly message: string
}

/** The shape the `github` grant has (it may be configured before this module knows its schema). */
interface GithubGrantShape {
  readonly owner?: unknown
  readonly permissions?: unknown
}

const grantOf = (policy: PolicyConfig) =>
  policy.grant as PolicyConfig['grant'] & { github?: GithubGrantShape; approval?: unknown }

/** Compiles guardrail globs once; a list matches when any glob does. */
function anyGlob(globs: readonly string[] | undefined): StringTest | undefined {
  if (!globs) return undefined
  const tests = globs.map(compileGlob)
  return (value) => tests.some((t) => t(value))
}

/** True when guardrail globs need the regex engine (loaded before compiling, like match globs). */
export function guardrailsNeedRegexEngine(guardrails: GuardrailsConfig | undefined): boolean {
  if (!guardrails) return false
  const globs = [
    ...(guardrails.audiences ?? []),
    ...(guardrails.awsRoles ?? []),
    ...(guardrails.requireApproval?.scopes ?? []),
  ]
  return globs.some(globNeedsRegexEngine)
}

const rank = (level: unknown) => PERMISSION_LEVELS.indexOf(level as (typeof PERMISSION_LEVELS)[number])

function permissionsOf(github: GithubGrantShape | undefined): [string, string][] {
  const p = github?.permissions
  if (typeof p !== 'object' || p === null) return []
  return Object.entries(p).map(([name, level]) => [name, String(level)])
}

/** Is `claim` pinned to exact values (a literal or a list of literals)? */
function pinsExactly(policy: PolicyConfig, provider: ProviderConfig | undefined, claim: string): boolean {
  if (literalValues(policy.match[claim]) !== undefined) return true
  // An exact GitHub sub in the immutable form carries the owner and repository ids.
  if (claim !== 'repository_id' && claim !== 'repository_owner_id') return false
  if (!provider || effectivePreset(provider) !== 'github-actions') return false
  const subs = literalValues(policy.match.sub)
  const immutable = (s: unknown) =>
    typeof s === 'string' && s.startsWith('repo:') && isImmutableSegment(s.slice(5).split(':')[0] ?? '')
  return subs?.every(immutable) === true
}

class Checker {
  readonly out: GuardrailViolation[] = []
  readonly audiences: StringTest | undefined
  readonly roles: StringTest | undefined
  readonly approvalScopes: StringTest | undefined
  readonly providers: ReadonlyMap<string, ProviderConfig>

  constructor(
    readonly g: GuardrailsConfig,
    config: Pick<Config, 'providers'>,
  ) {
    this.audiences = anyGlob(g.audiences)
    this.roles = anyGlob(g.awsRoles)
    this.approvalScopes = anyGlob(g.requireApproval?.scopes)
    this.providers = new Map(config.providers.map((p) => [p.name, p]))
  }

  add(rule: string, path: (string | number)[], policy: PolicyConfig, what: string, guardrail: string) {
    this.out.push({ rule, path, message: `policy "${policy.name}" ${what}, beyond guardrail ${guardrail}` })
  }

  check(policy: PolicyConfig, i: number): void {
    const grant = grantOf(policy)
    const at = (...rest: (string | number)[]) => ['policies', i, ...rest]
    const { maxTtl } = this.g
    if (maxTtl !== undefined) {
      if (grant.token && grant.token.ttl > maxTtl)
        this.add(
          'guardrail-max-ttl',
          at('grant', 'token', 'ttl'),
          policy,
          `grants a ttl of ${formatSeconds(grant.token.ttl)}`,
          `maxTtl ${formatSeconds(maxTtl)}`,
        )
      if (grant.aws && grant.aws.duration > maxTtl)
        this.add(
          'guardrail-max-ttl',
          at('grant', 'aws', 'duration'),
          policy,
          `grants a duration of ${formatSeconds(grant.aws.duration)}`,
          `maxTtl ${formatSeconds(maxTtl)}`,
        )
    }
    if (grant.token && this.audiences) {
      const list = typeof grant.token.audience === 'string' ? [grant.token.audience] : grant.token.audience
      for (const audience of list)
        if (!this.audiences(audience))
          this.add(
            'guardrail-audiences',
            at('grant', 'token', 'audience'),
            policy,
            `grants audience ${audience}`,
            'audiences',
          )
    }
    if (grant.aws && this.roles && !this.roles(grant.aws.roleArn))
      this.add(
        'guardrail-aws-roles',
        at('grant', 'aws', 'roleArn'),
        policy,
        `grants role ${grant.aws.roleArn}`,
        'awsRoles',
      )
    this.checkGithub(policy, grant.github, at)
    this.checkClaims(policy, at)
    this.checkApproval(policy, grant, at)
  }

  checkGithub(
    policy: PolicyConfig,
    github: GithubGrantShape | undefined,
    at: (...r: (string | number)[]) => (string | number)[],
  ) {
    const limits = this.g.github
    if (!github || !limits) return
    const owner = typeof github.owner === 'string' ? github.owner : ''
    // GitHub owner names are case-insensitive.
    if (limits.owners && !limits.owners.some((o) => o.toLowerCase() === owner.toLowerCase()))
      this.add(
        'guardrail-github-owners',
        at('grant', 'github', 'owner'),
        policy,
        `grants repositories of owner ${owner}`,
        'github.owners',
      )
    const ceiling = limits.maxPermissions
    if (!ceiling) return
    for (const [name, level] of permissionsOf(github)) {
      const max = Object.hasOwn(ceiling, name) ? ceiling[name] : undefined
      if (max === undefined || rank(level) < 0 || rank(level) > rank(max))
        this.add(
          'guardrail-github-permissions',
          at('grant', 'github', 'permissions', name),
          policy,
          `grants GitHub permission ${name}:${level}`,
          `github.maxPermissions (${max === undefined ? `${name} not allowed` : `${name}: ${max}`})`,
        )
    }
  }

  checkClaims(policy: PolicyConfig, at: (...r: (string | number)[]) => (string | number)[]) {
    const required = this.g.requireClaims
    if (!required) return
    const provider = this.providers.get(policy.provider)
    const preset = provider ? effectivePreset(provider) : undefined
    const keys = [policy.provider, ...(preset && preset !== policy.provider ? [preset] : [])]
    for (const key of keys) {
      for (const claim of (Object.hasOwn(required, key) ? required[key] : undefined) ?? []) {
        if (!pinsExactly(policy, provider, claim))
          this.add(
            'guardrail-require-claims',
            at('match'),
            policy,
            `does not pin ${claim} exactly`,
            `requireClaims.${key}`,
          )
      }
    }
  }

  checkApproval(
    policy: PolicyConfig,
    grant: ReturnType<typeof grantOf>,
    at: (...r: (string | number)[]) => (string | number)[],
  ) {
    if (!this.approvalScopes || grant.approval !== undefined) return
    const scopes = [
      ...(grant.token?.scopes ?? []),
      ...permissionsOf(grant.github).map(([name, level]) => `${name}:${level}`),
    ]
    const scope = scopes.find((s) => this.approvalScopes?.(s))
    if (scope !== undefined)
      this.add(
        'guardrail-require-approval',
        at('grant'),
        policy,
        `grants scope ${scope} without approval`,
        'requireApproval',
      )
  }
}

/** Every policy beyond a guardrail (none when the config sets no guardrails). */
export function guardrailViolations(
  config: Pick<Config, 'providers' | 'policies' | 'guardrails'>,
): GuardrailViolation[] {
  if (!config.guardrails) return []
  const checker = new Checker(config.guardrails, config)
  config.policies.forEach((policy, i) => {
    checker.check(policy, i)
  })
  return checker.out
}

/** `requireClaims` keys that name neither a provider nor a preset: a typo would silently disable them. */
export function unknownRequireClaimsKeys(
  config: Pick<Config, 'providers' | 'guardrails'>,
  presets: readonly string[],
): string[] {
  const required = config.guardrails?.requireClaims
  if (!required) return []
  const known = new Set([...config.providers.map((p) => p.name), ...presets])
  return Object.keys(required).filter((k) => !known.has(k))
}

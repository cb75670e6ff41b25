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

/** What the rules share: the guardrails, their globs compiled once, the providers by name. */
interface Bounds {
  readonly g: GuardrailsConfig
  readonly audiences: StringTest | undefined
  readonly roles: StringTest | undefined
  readonly approvalScopes: StringTest | undefined
  readonly providers: ReadonlyMap<string, ProviderConfig>
}

/** One finding of a rule: where in the policy, what it grants, and which guardrail it exceeds. */
interface Excess {
  readonly rule: string
  readonly path: readonly (string | number)[]
  readonly what: string
  readonly guardrail: string
}

type GuardrailRule = (policy: PolicyConfig, b: Bounds) => Excess[]

const maxTtlRule: GuardrailRule = ({ grant }, { g }) => {
  const max = g.maxTtl
  if (max === undefined) return []
  const out: Excess[] = []
  const guardrail = `maxTtl ${formatSeconds(max)}`
  if (grant.token && grant.token.ttl > max)
    out.push({
      rule: 'guardrail-max-ttl',
      path: ['grant', 'token', 'ttl'],
      what: `grants a ttl of ${formatSeconds(grant.token.ttl)}`,
      guardrail,
    })
  if (grant.aws && grant.aws.duration > max)
    out.push({
      rule: 'guardrail-max-ttl',
      path: ['grant', 'aws', 'duration'],
      what: `grants a duration of ${formatSeconds(grant.aws.duration)}`,
      guardrail,
    })
  return out
}

const audiencesRule: GuardrailRule = ({ grant }, { audiences }) => {
  if (!grant.token || !audiences) return []
  const list = typeof grant.token.audience === 'string' ? [grant.token.audience] : grant.token.audience
  return list
    .filter((audience) => !audiences(audience))
    .map((audience) => ({
      rule: 'guardrail-audiences',
      path: ['grant', 'token', 'audience'],
      what: `grants audience ${audience}`,
      guardrail: 'audiences',
    }))
}

const awsRolesRule: GuardrailRule = ({ grant }, { roles }) => {
  if (!grant.aws || !roles || roles(grant.aws.roleArn)) return []
  return [
    {
      rule: 'guardrail-aws-roles',
      path: ['grant', 'aws', 'roleArn'],
      what: `grants role ${grant.aws.roleArn}`,
      guardrail: 'awsRoles',
    },
  ]
}

const githubOwnersRule: GuardrailRule = (policy, { g }) => {
  const github = grantOf(policy).github
  const owners = g.github?.owners
  if (!github || !owners) return []
  const owner = typeof github.owner === 'string' ? github.owner : ''
  // GitHub owner names are case-insensitive.
  if (owners.some((o) => o.toLowerCase() === owner.toLowerCase())) return []
  return [
    {
      rule: 'guardrail-github-owners',
      path: ['grant', 'github', 'owner'],
      what: `grants repositories of owner ${owner}`,
      guardrail: 'github.owners',
    },
  ]
}

const githubPermissionsRule: GuardrailRule = (policy, { g }) => {
  const ceiling = g.github?.maxPermissions
  if (!ceiling) return []
  const out: Excess[] = []
  for (const [name, level] of permissionsOf(grantOf(policy).github)) {
    // Deny by default: a permission the ceiling does not list may not be granted at all.
    const max = Object.hasOwn(ceiling, name) ? ceiling[name] : undefined
    if (max !== undefined && rank(level) >= 0 && rank(level) <= rank(max)) continue
    out.push({
      rule: 'guardrail-github-permissions',
      path: ['grant', 'github', 'permissions', name],
      what: `grants GitHub permission ${name}:${level}`,
      guardrail: `github.maxPermissions (${max === undefined ? `${name} not allowed` : `${name}: ${max}`})`,
    })
  }
  return out
}

const requireClaimsRule: GuardrailRule = (policy, { g, providers }) => {
  const required = g.requireClaims
  if (!required) return []
  const provider = providers.get(policy.provider)
  const preset = provider ? effectivePreset(provider) : undefined
  const keys = [...new Set([policy.provider, ...(preset ? [preset] : [])])]
  const out: Excess[] = []
  for (const key of keys) {
    const claims = Object.hasOwn(required, key) ? required[key] : undefined
    for (const claim of claims ?? []) {
      if (pinsExactly(policy, provider, claim)) continue
      out.push({
        rule: 'guardrail-require-claims',
        path: ['match'],
        what: `does not pin ${claim} exactly`,
        guardrail: `requireClaims.${key}`,
      })
    }
  }
  return out
}

const requireApprovalRule: GuardrailRule = (policy, { approvalScopes }) => {
  const grant = grantOf(policy)
  if (!approvalScopes || grant.approval !== undefined) return []
  const offered = [
    ...(grant.token?.scopes ?? []),
    ...permissionsOf(grant.github).map(([name, level]) => `${name}:${level}`),
  ]
  const scope = offered.find(approvalScopes)
  if (scope === undefined) return []
  return [
    {
      rule: 'guardrail-require-approval',
      path: ['grant'],
      what: `grants scope ${scope} without approval`,
      guardrail: 'requireApproval',
    },
  ]
}

const RULES: readonly GuardrailRule[] = [
  maxTtlRule,
  audiencesRule,
  awsRolesRule,
  githubOwnersRule,
  githubPermissionsRule,
  requireClaimsRule,
  requireApprovalRule,
]

/** Every policy beyond a guardrail (none when the config sets no guardrails). */
export function guardrailViolations(
  config: Pick<Config, 'providers' | 'policies' | 'guardrails'>,
): GuardrailViolation[] {
  const g = config.guardrails
  if (!g) return []
  const bounds: Bounds = {
    g,
    audiences: anyGlob(g.audiences),
    roles: anyGlob(g.awsRoles),
    approvalScopes: anyGlob(g.requireApproval?.scopes),
    providers: new Map(config.providers.map((p) => [p.name, p])),
  }
  return config.policies.flatMap((policy, i) =>
    RULES.flatMap((rule) =>
      rule(policy, bounds).map((e) => ({
        rule: e.rule,
        path: ['policies', i, ...e.path],
        message: `policy '${policy.name}' ${e.what}, beyond guardrail ${e.guardrail}`,
      })),
    ),
  )
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

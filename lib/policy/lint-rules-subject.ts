/** Lint rules on the subject pattern: broad wildcards, and GitHub `sub` forms that admit too much. */

import type { MatcherSpec } from '../config/schema.js'
import {
  identityClaimsOf,
  matchPath,
  type PolicyContext,
  type PolicyRule,
  quote,
  type RawFinding,
} from './lint-rules-context.js'
import { grantsAllRepositories } from './lint-rules-github.js'
import { ANY, hasWild, isLiteral, literalValues, skeletons, wildOnly } from './lint-rules-skeleton.js'
import { compileMatcher, isMatcherProblem } from './matchers.js'

type Dimension = 'repository' | 'ref' | 'namespace' | 'service-account' | 'role' | 'subject'
type SubjectFormat = 'github' | 'gitlab' | 'kubernetes' | 'aws-iam' | 'generic'

interface Broadness {
  readonly what: string
  readonly dimension: Dimension
}

/** Exact conditions on these claims narrow a wildcard back down to one workload. */
const COMPENSATORS: Readonly<Record<SubjectFormat, Partial<Record<Dimension, readonly string[]>>>> = {
  github: { repository: ['repository_id', 'repository'], ref: ['ref', 'environment'] },
  gitlab: { repository: ['project_id', 'project_path'], ref: ['ref', 'environment'] },
  kubernetes: {
    namespace: ['kubernetes.io.namespace'],
    'service-account': ['kubernetes.io.serviceaccount.name', 'kubernetes.io.serviceaccount.uid'],
  },
  'aws-iam': { role: ['role', 'principal_id', 'arn'] },
  generic: {},
}

function formatOf(ctx: PolicyContext): SubjectFormat {
  if (ctx.provider.kind === 'aws-iam') return 'aws-iam'
  if (ctx.presetName === 'github-actions') return 'github'
  if (ctx.presetName === 'gitlab') return 'gitlab'
  if (ctx.presetName === 'kubernetes') return 'kubernetes'
  return 'generic'
}

function genericBroadness(text: string): Broadness | undefined {
  if (wildOnly(text)) return { what: 'any subject', dimension: 'subject' }
  if (hasWild(text.charAt(0)))
    return { what: 'subjects of any shape (it starts with a wildcard)', dimension: 'subject' }
  return undefined
}

/** Splits `prefix<segment>:<rest>` after a fixed prefix. */
function splitAfter(text: string, prefix: string): [string, string | undefined] {
  const rest = text.slice(prefix.length)
  const colon = rest.indexOf(':')
  return colon < 0 ? [rest, undefined] : [rest.slice(0, colon), rest.slice(colon + 1)]
}

function githubBroadness(text: string): Broadness | undefined {
  if (!text.startsWith('repo:')) return genericBroadness(text)
  const [repo, context] = splitAfter(text, 'repo:')
  if (hasWild(repo)) {
    const owner = repo.split('/')[0] ?? ''
    const what = repo.includes('/') && isLiteral(owner) ? `any repository of ${owner}` : 'any repository'
    return { what, dimension: 'repository' }
  }
  if (context === undefined) return undefined
  // `*` alone stays within one segment: it admits `pull_request` (another rule) but no ref or environment.
  const segments = context.split(':')
  if (segments.every(wildOnly) && (context.includes(ANY) || segments.length > 1)) {
    return { what: `any branch, tag, environment or pull request of ${repo}`, dimension: 'ref' }
  }
  const ref = /^ref:(refs\/(heads|tags)\/)?(.*)$/s.exec(context)
  if (ref && wildOnly(ref[3] ?? '')) {
    const kind = ref[2] === 'heads' ? 'branch' : ref[2] === 'tags' ? 'tag' : 'ref'
    return { what: `any ${kind} of ${repo}`, dimension: 'ref' }
  }
  return undefined
}

function gitlabBroadness(text: string): Broadness | undefined {
  if (!text.startsWith('project_path:')) return genericBroadness(text)
  const [project, context] = splitAfter(text, 'project_path:')
  if (hasWild(project)) return { what: 'any project', dimension: 'repository' }
  if (context === undefined) return undefined
  if (wildOnly(context)) return { what: `any ref of ${project}`, dimension: 'ref' }
  const ref = /(?:^|:)ref:([^:]*)$/s.exec(context)
  if (ref && wildOnly(ref[1] ?? '')) return { what: `any branch or tag of ${project}`, dimension: 'ref' }
  return undefined
}

function kubernetesBroadness(text: string): Broadness | undefined {
  const prefix = 'system:serviceaccount:'
  if (!text.startsWith(prefix)) return genericBroadness(text)
  const [namespace, account] = splitAfter(text, prefix)
  if (hasWild(namespace)) return { what: 'any namespace', dimension: 'namespace' }
  if (account === undefined || wildOnly(account)) {
    return { what: `any service account of namespace ${namespace}`, dimension: 'service-account' }
  }
  return undefined
}

function awsIamBroadness(text: string): Broadness | undefined {
  const parts = text.split(':')
  if (parts[0] !== 'arn' || parts.length < 6) return genericBroadness(text)
  const resource = parts.slice(5).join(':')
  const [type, role] = resource.split('/')
  if (wildOnly(resource) || hasWild(type ?? '') || hasWild(role ?? '')) {
    return { what: 'any role of the account', dimension: 'role' }
  }
  return undefined
}

const ANALYSERS: Readonly<Record<SubjectFormat, (text: string) => Broadness | undefined>> = {
  github: githubBroadness,
  gitlab: gitlabBroadness,
  kubernetes: kubernetesBroadness,
  'aws-iam': awsIamBroadness,
  generic: genericBroadness,
}

/** Broadness of a non-`sub` identity claim: a bare wildcard, or a wildcard repository/project path. */
function claimBroadness(claim: string, text: string): Broadness | undefined {
  if (wildOnly(text)) return { what: `any ${claim}`, dimension: 'subject' }
  if ((claim === 'repository' || claim === 'project_path') && hasWild(text)) {
    return {
      what: `more than one ${claim === 'repository' ? 'repository' : 'project'}`,
      dimension: 'repository',
    }
  }
  return undefined
}

function isPattern(spec: MatcherSpec): spec is { glob: string } | { regex: string } {
  return typeof spec === 'object' && !Array.isArray(spec)
}

function compensated(ctx: PolicyContext, claim: string, broad: Broadness): boolean {
  const match = ctx.policy.match
  const names =
    broad.dimension === 'subject'
      ? identityClaimsOf(ctx).filter((c) => c !== claim)
      : (COMPENSATORS[formatOf(ctx)][broad.dimension] ?? [])
  return names.some((name) => name !== claim && literalValues(match[name]) !== undefined)
}

/** Wildcards on identity claims that admit more than one workload: error unless `allowBroad`. */
export const broadSubjectRule: PolicyRule = (ctx) => {
  const findings: RawFinding[] = []
  const format = formatOf(ctx)
  let broadSeen = false
  for (const claim of identityClaimsOf(ctx)) {
    const spec = ctx.policy.match[claim]
    if (spec === undefined || !isPattern(spec)) continue
    for (const text of skeletons(spec)) {
      const broad = claim === 'sub' ? ANALYSERS[format](text) : claimBroadness(claim, text)
      if (!broad || compensated(ctx, claim, broad)) continue
      broadSeen = true
      const pattern = quote('glob' in spec ? spec.glob : spec.regex)
      if (ctx.policy.allowBroad !== undefined) {
        findings.push({
          rule: 'broad-subject',
          severity: 'info',
          message: `policy "${ctx.policy.name}": ${claim} ${pattern} matches ${broad.what} (acknowledged: ${ctx.policy.allowBroad})`,
          hint: 'allowBroad is set; review that the reason still holds',
          path: matchPath(ctx, claim),
        })
      } else {
        findings.push({
          rule: 'broad-subject',
          severity: 'error',
          message: `policy "${ctx.policy.name}": ${claim} ${pattern} matches ${broad.what}`,
          hint: `match one workload exactly (or pin ${broad.dimension === 'ref' ? 'ref' : 'its id'} with an exact condition); if this is deliberate, add allowBroad: "<reason>" to the policy`,
          path: matchPath(ctx, claim),
        })
      }
      break
    }
  }
  // allowBroad also acknowledges a github grant of every repository (github-all-repositories).
  const broadGrant = grantsAllRepositories(ctx.policy.grant.github?.repositories)
  if (!broadSeen && !broadGrant && ctx.policy.allowBroad !== undefined) {
    findings.push({
      rule: 'allow-broad-unused',
      severity: 'info',
      message: `policy "${ctx.policy.name}" sets allowBroad but no identity condition is broad`,
      hint: 'remove allowBroad so a later broad pattern is flagged again',
      path: ['policies', ctx.index, 'allowBroad'],
    })
  }
  return findings
}

/** The literal `repo:owner/name` prefix of a GitHub sub matcher, when every alternative shares one. */
function githubRepoPrefix(spec: MatcherSpec): string | undefined {
  const repos = new Set<string>()
  for (const text of skeletons(spec)) {
    if (!text.startsWith('repo:')) return undefined
    const [repo] = splitAfter(text, 'repo:')
    if (!isLiteral(repo)) return undefined
    repos.add(repo)
  }
  return repos.size === 1 ? `repo:${[...repos][0]}` : undefined
}

/** Does the sub matcher accept this probe subject? */
function accepts(spec: MatcherSpec, probe: string): boolean {
  const compiled = compileMatcher(spec)
  return !isMatcherProblem(compiled) && compiled.test(probe) === undefined
}

function literalAdmits(ctx: PolicyContext, claim: string, admits: (value: string) => boolean): boolean {
  const values = literalValues(ctx.policy.match[claim])
  return values === undefined || values.some((v) => typeof v === 'string' && admits(v))
}

const PROBE_ENVIRONMENT = 'tessera-lint-any-environment'

/** GitHub `sub` forms that admit pull-request runs, or any environment when none is pinned. */
export const githubSubFormsRule: PolicyRule = (ctx) => {
  const spec = ctx.policy.match.sub
  if (ctx.presetName !== 'github-actions' || spec === undefined) return []
  const findings: RawFinding[] = []
  const literal = literalValues(spec)
  const prefix = literal ? undefined : githubRepoPrefix(spec)
  const admitsPr = literal
    ? literal.some((v) => typeof v === 'string' && v.endsWith(':pull_request'))
    : prefix !== undefined && accepts(spec, `${prefix}:pull_request`)
  // A pinned ref or event (other than pull requests) already keeps pull-request runs out.
  const prBlocked =
    !literalAdmits(ctx, 'ref', (v) => v.startsWith('refs/pull/')) ||
    !literalAdmits(ctx, 'event_name', (v) => v.startsWith('pull_request'))
  if (admitsPr && !prBlocked) {
    findings.push({
      rule: 'github-pull-request',
      severity: 'warning',
      message: `policy "${ctx.policy.name}": sub admits pull_request runs, which execute code from the pull request's branch`,
      hint: 'match the protected branch (repo:OWNER/REPO:ref:refs/heads/main) or an environment instead of :pull_request',
      path: matchPath(ctx, 'sub'),
    })
  }
  const anyEnvironment =
    !literal && prefix !== undefined && accepts(spec, `${prefix}:environment:${PROBE_ENVIRONMENT}`)
  if (anyEnvironment && literalValues(ctx.policy.match.environment) === undefined) {
    findings.push({
      rule: 'github-any-environment',
      severity: 'warning',
      message: `policy "${ctx.policy.name}": sub admits any deployment environment and environment is not pinned`,
      hint: 'name the environment in sub (repo:OWNER/REPO:environment:prod) or add `environment: prod`',
      path: matchPath(ctx, 'sub'),
    })
  }
  return findings
}

/** Lint rules on grants: long lifetimes, and the same grant given twice to overlapping subjects. */
import { formatSeconds } from '../config/duration.js'
import type { MatcherSpec, PolicyConfig } from '../config/schema.js'
import type { ConfigRule, RawFinding } from './lint-rules-context.js'
import { quote } from './lint-rules-context.js'
import { ANY, literalValues, OPAQUE, SEG, skeletons } from './lint-rules-skeleton.js'
import { compileMatcher, isMatcherProblem } from './matchers.js'

const LONG_TTL_SECONDS = 3600
/** Bounds the pairwise overlap check on very large configs. */
const MAX_PAIRS = 250_000

/** Credentials living over an hour outlast the job that asked for them. */
export const ttlRule: ConfigRule = (config) => {
  const findings: RawFinding[] = []
  config.policies.forEach((policy, i) => {
    const { token, aws } = policy.grant
    const seconds = token?.ttl ?? aws?.duration ?? 0
    if (seconds <= LONG_TTL_SECONDS) return
    const field = token ? ['token', 'ttl'] : ['aws', 'duration']
    findings.push({
      rule: 'ttl-long',
      severity: 'warning',
      message: `policy "${policy.name}" grants credentials for ${formatSeconds(seconds)} (over 1h)`,
      hint: 'keep credentials as short-lived as the job: 10m–1h; the workload can exchange again',
      path: ['policies', i, 'grant', ...field],
    })
  })
  return findings
}

function affixes(text: string): { prefix: string; suffix: string } {
  const cut = [SEG, ANY, OPAQUE].map((m) => text.indexOf(m)).filter((i) => i >= 0)
  if (cut.length === 0) return { prefix: text, suffix: text }
  const last = Math.max(...[SEG, ANY, OPAQUE].map((m) => text.lastIndexOf(m)))
  return { prefix: text.slice(0, Math.min(...cut)), suffix: text.slice(last + 1) }
}

function compatible(a: string, b: string, side: 'prefix' | 'suffix'): boolean {
  return side === 'prefix' ? a.startsWith(b) || b.startsWith(a) : a.endsWith(b) || b.endsWith(a)
}

function acceptsLiteral(spec: MatcherSpec, value: string | number | boolean): boolean {
  const compiled = compileMatcher(spec)
  return !isMatcherProblem(compiled) && compiled.test(value) === undefined
}

/** Could one claim value satisfy both matchers? Errs towards "yes" for two patterns. */
export function mayOverlap(a: MatcherSpec, b: MatcherSpec): boolean {
  const la = literalValues(a)
  const lb = literalValues(b)
  if (la && lb) return la.some((x) => lb.some((y) => x === y))
  if (la) return la.some((x) => acceptsLiteral(b, x))
  if (lb) return lb.some((y) => acceptsLiteral(a, y))
  return skeletons(a).some((sa) =>
    skeletons(b).some((sb) => {
      const fa = affixes(sa)
      const fb = affixes(sb)
      return compatible(fa.prefix, fb.prefix, 'prefix') && compatible(fa.suffix, fb.suffix, 'suffix')
    }),
  )
}

function subjectsOverlap(a: PolicyConfig, b: PolicyConfig): boolean {
  for (const [claim, spec] of Object.entries(a.match)) {
    const other = b.match[claim]
    if (other !== undefined && !mayOverlap(spec, other)) return false
  }
  return true
}

/** What both grants hand out ("audience X scope s"), or undefined when they share nothing. */
function sharedGrant(a: PolicyConfig, b: PolicyConfig): string | undefined {
  if (a.grant.aws && b.grant.aws) {
    return a.grant.aws.roleArn === b.grant.aws.roleArn ? `role ${a.grant.aws.roleArn}` : undefined
  }
  const ta = a.grant.token
  const tb = b.grant.token
  if (!ta || !tb) return undefined
  const audA = typeof ta.audience === 'string' ? [ta.audience] : ta.audience
  const audB = new Set(typeof tb.audience === 'string' ? [tb.audience] : tb.audience)
  const audiences = audA.filter((x) => audB.has(x))
  if (audiences.length === 0) return undefined
  const scopesB = new Set(tb.scopes)
  const scopes = ta.scopes.filter((s) => scopesB.has(s))
  if (scopes.length === 0 && (ta.scopes.length > 0 || tb.scopes.length > 0)) return undefined
  const scopeText = scopes.length > 0 ? ` scope ${scopes.join(' ')}` : ''
  return `audience ${audiences.map((x) => quote(x)).join(', ')}${scopeText}`
}

/** The same audience/scope or role granted by two policies of one provider to subjects that overlap. */
export const overlappingGrantRule: ConfigRule = (config) => {
  const findings: RawFinding[] = []
  const policies = config.policies
  let pairs = 0
  for (let j = 1; j < policies.length && pairs < MAX_PAIRS; j++) {
    const b = policies[j]
    if (!b) continue
    for (let i = 0; i < j && pairs < MAX_PAIRS; i++, pairs++) {
      const a = policies[i]
      if (!a || a.provider !== b.provider) continue
      const shared = sharedGrant(a, b)
      if (!shared || !subjectsOverlap(a, b)) continue
      findings.push({
        rule: 'overlapping-grant',
        severity: 'info',
        message: `policies "${a.name}" and "${b.name}" both grant ${shared} to subjects that may overlap`,
        hint: `make the subjects disjoint or merge the policies; for a workload matching both, "${a.name}" (first) answers, and an exchange naming no audience is refused as ambiguous`,
        path: ['policies', j, 'grant'],
      })
      break
    }
  }
  return findings
}

/**
 * The operator-facing explanation of a decision: per policy of the subject's provider and per claim
 * condition, what matched and why not. Shared by `tessera policy explain` (claims from a token) and
 * `tessera policy test` (claims from a test file), so both say the same thing.
 */
import { PRESETS } from '../config/presets.js'
import type { Config, MatcherSpec, PolicyConfig, ProviderConfig } from '../config/schema.js'
import type { CompiledPolicies, CompiledPolicy } from './compile.js'
import { explain } from './explain.js'
import type { AlternateSub } from './github-subject.js'
import { printable } from './lint-format.js'
import { effectivePreset } from './lint-rules-context.js'
import type { ClaimCheck, Decision, PolicyTrace } from './types.js'

export type Paint = (style: 'ok' | 'bad' | 'dim' | 'bold', text: string) => string

/** ANSI styling when `color`, plain text otherwise. */
export function painter(color: boolean): Paint {
  const codes = { ok: '\x1b[32m', bad: '\x1b[31m', dim: '\x1b[2m', bold: '\x1b[1m' }
  return (style, text) => (color ? `${codes[style]}${text}\x1b[0m` : text)
}

const MAX_SHOWN = 100

/** A claim value for the terminal: bounded, control characters replaced, type named when not a string. */
export function show(value: unknown): string {
  if (value === undefined) return '(missing)'
  const text = JSON.stringify(value) ?? String(value)
  const cut = text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text
  // Control characters in a hostile token must not reach the terminal.
  const safe = printable(cut).replace(/[\n\t]/g, '?')
  if (value === null) return 'null'
  if (Array.isArray(value)) return `${safe} (array)`
  return typeof value === 'string' ? safe : `${safe} (${typeof value})`
}

function describeMatcher(spec: MatcherSpec | undefined): string {
  if (spec === undefined) return '?'
  if (Array.isArray(spec)) return `any of ${JSON.stringify(spec)}`
  if (typeof spec !== 'object') return JSON.stringify(spec)
  return 'glob' in spec ? `glob ${JSON.stringify(spec.glob)}` : `regex ${JSON.stringify(spec.regex)}`
}

function expectedTypes(spec: MatcherSpec | undefined): string {
  if (spec === undefined || (typeof spec === 'object' && !Array.isArray(spec))) return 'a string'
  const types = [...new Set((Array.isArray(spec) ? spec : [spec]).map((v) => typeof v))]
  return types.map((t) => `a ${t}`).join(' or ')
}

const FORM_NAMES = {
  immutable: 'the immutable form repo:OWNER-OWNERID/REPO-REPOID',
  name: 'the name form repo:OWNER/REPO',
} as const

function formText(alt: AlternateSub): string {
  const other = alt.tokenForm === 'immutable' ? 'name' : 'immutable'
  return `the token's sub is in ${FORM_NAMES[alt.tokenForm]}, the policy's in ${FORM_NAMES[other]}`
}

function why(check: ClaimCheck, spec: MatcherSpec | undefined, formOnly: AlternateSub | undefined): string {
  const want = describeMatcher(spec)
  switch (check.reason) {
    case 'missing':
      return `missing: the token has no ${check.claim} claim (wanted ${want})`
    case 'wrong-type':
      return `wrong type: wanted ${expectedTypes(spec)} (${want}); matching is type-strict`
    default:
      return formOnly
        ? `no match for ${want}: only the form differs (${formText(formOnly)})`
        : `no match for ${want}`
  }
}

/** What a policy grants, in one line. */
export function grantSummary(policy: PolicyConfig): string {
  const { token, aws, github } = policy.grant
  if (aws) return `role ${aws.roleArn}`
  if (github) {
    const permissions = Object.entries(github.permissions).map(([name, level]) => `${name}:${level}`)
    return `GitHub ${github.owner}: ${github.repositories.join(', ')} (${permissions.join(' ')}, app ${github.app})`
  }
  if (!token) return 'nothing'
  const audiences = typeof token.audience === 'string' ? [token.audience] : token.audience
  return `audience ${audiences.join(', ')}${token.scopes.length > 0 ? `, scopes ${token.scopes.join(' ')}` : ''}`
}

function policyStatus(trace: PolicyTrace, decision: Decision, policy: PolicyConfig | undefined): string {
  if (decision.allow && decision.policy === trace.policy) return '<- chosen'
  if (!trace.subjectMatched) return 'subject does not match'
  if (!trace.targetMatched)
    return `subject matches, but the grant (${policy ? grantSummary(policy) : '?'}) is not what was requested`
  if (!trace.scopeMatched) return 'subject and target match, but the requested scopes are not granted'
  return decision.allow
    ? `matches too, but "${decision.policy}" comes first`
    : 'matches too (ambiguous without --audience/--resource)'
}

/** Does the failed `sub` check pass with the subject written in the other form? */
function subPassesInOtherForm(compiled: CompiledPolicy | undefined, alt: AlternateSub | undefined): boolean {
  if (!compiled || !alt) return false
  const check = compiled.checks.find((c) => c.claim.name === 'sub')
  return check !== undefined && check.test(alt.sub) === undefined
}

function renderPolicy(
  trace: PolicyTrace,
  decision: Decision,
  policy: PolicyConfig | undefined,
  compiled: CompiledPolicy | undefined,
  alt: AlternateSub | undefined,
  paint: Paint,
): string[] {
  const chosen = decision.allow && decision.policy === trace.policy
  const ok = trace.subjectMatched && trace.targetMatched && trace.scopeMatched
  const mark = ok ? paint('ok', '✓') : paint('bad', '✗')
  const title = chosen ? paint('bold', `policy ${trace.policy}`) : `policy ${trace.policy}`
  const status = policyStatus(trace, decision, policy)
  const lines = [`${mark} ${title}  ${chosen ? paint('ok', status) : status}`]
  const width = Math.max(0, ...trace.checks.map((c) => c.claim.length))
  for (const check of trace.checks) {
    const spec = policy?.match[check.claim]
    const name = check.claim.padEnd(width)
    if (check.ok) {
      const how = check.matcher === 'exact' ? '' : paint('dim', `  (${describeMatcher(spec)})`)
      lines.push(`    ${paint('ok', '✓')} ${name}  ${show(check.value)}${how}`)
    } else {
      const formOnly = check.claim === 'sub' && subPassesInOtherForm(compiled, alt) ? alt : undefined
      lines.push(
        `    ${paint('bad', '✗')} ${name}  ${show(check.value)}  ${paint('bad', why(check, spec, formOnly))}`,
      )
    }
  }
  if (policy) lines.push(paint('dim', `      grants ${grantSummary(policy)}`))
  return lines
}

/** What to decide: a subject's claims and the requested targets. */
export interface ClaimsQuestion {
  readonly config: Config
  readonly compiled: CompiledPolicies
  readonly provider: ProviderConfig
  readonly claims: Readonly<Record<string, unknown>>
  readonly audiences: readonly string[]
  readonly resources: readonly string[]
  readonly scopes?: readonly string[] | undefined
}

/** The decision, its explanation, and whether a denial is only a difference of GitHub sub form. */
export interface ClaimsExplanation {
  readonly decision: Decision
  /** Per-policy lines and the closing `decision` line. */
  readonly lines: string[]
  /** Set when the same subject in the other sub form would be allowed. */
  readonly formOnly: AlternateSub | undefined
}

/** Runs every policy of the provider on the claims and explains the outcome. */
export function explainClaims(q: ClaimsQuestion, paint: Paint): ClaimsExplanation {
  const request = {
    provider: q.provider.name,
    claims: q.claims,
    audiences: q.audiences,
    resources: q.resources,
    scopes: q.scopes,
  }
  const { decision, traces } = explain(q.compiled, request)
  const preset = effectivePreset(q.provider)
  const alt = preset ? PRESETS[preset].alternateSub?.(q.claims) : undefined
  const formOnly =
    !decision.allow &&
    alt &&
    explain(q.compiled, { ...request, claims: { ...q.claims, sub: alt.sub } }).decision.allow
      ? alt
      : undefined
  const lines: string[] = []
  const byName = new Map(q.config.policies.map((p) => [p.name, p]))
  const compiledByName = new Map(q.compiled.all.map((p) => [p.name, p]))
  for (const trace of traces) {
    const policy = byName.get(trace.policy)
    lines.push(...renderPolicy(trace, decision, policy, compiledByName.get(trace.policy), alt, paint), '')
  }
  if (traces.length === 0) lines.push(`no policy names provider ${q.provider.name}`, '')
  const others = q.config.policies.length - traces.length
  if (others > 0)
    lines.push(
      paint('dim', `(${others} polic${others === 1 ? 'y' : 'ies'} of other providers not shown)`),
      '',
    )
  if (decision.allow) {
    const policy = byName.get(decision.policy)
    lines.push(
      `decision   ${paint('ok', 'allow')}: policy ${decision.policy} grants ${policy ? grantSummary(policy) : '?'}`,
    )
  } else {
    lines.push(`decision   ${paint('bad', `deny (${decision.error})`)}: ${decision.message}`)
    if (formOnly)
      lines.push(
        `           ${paint('bad', `only the sub form differs: ${formText(formOnly)}; the same subject as ${show(formOnly.sub)} is allowed (see docs/policies.md, GitHub's immutable sub)`)}`,
      )
  }
  return { decision, lines, formOnly }
}

/**
 * `tessera policy explain`: decode (optionally verify) a token locally and show, per policy of
 * its provider and per claim condition, what matched and why not. Never contacts the broker.
 */

import { decodeJwt, issuersOf } from '../assertion/decode-jwt.js'
import { gcpInstanceClaims, isGcpInstanceProvider } from '../assertion/gcp-instance.js'
import type { Config, MatcherSpec, PolicyConfig, ProviderConfig } from '../config/schema.js'
import { compilePolicies } from '../policy/compile.js'
import { explain } from '../policy/explain.js'
import { printable } from '../policy/lint-format.js'
import type { ClaimCheck, Decision, PolicyTrace } from '../policy/types.js'

export interface ExplainInput {
  readonly config: Config
  readonly token: string
  readonly audiences: readonly string[]
  readonly resources: readonly string[]
  /** Epoch ms, for the expiry line. */
  readonly now: number
  /** Set when --verify ran: verified claims, or why verification failed. */
  readonly verified?: { readonly claims: Readonly<Record<string, unknown>> } | { readonly error: string }
  readonly color?: boolean
}

/** A decoded JWT: header and payload, not verified. */
export interface DecodedToken {
  readonly header: Record<string, unknown>
  readonly payload: Record<string, unknown>
}

/** Decodes a compact JWS without verifying it, exactly as the broker's oidc verifier does. */
export function decodeToken(token: string): DecodedToken {
  const { header, payload } = decodeJwt(token, 'the token')
  return { header, payload }
}

/** The OIDC provider trusting exactly this `iss` (providers are selected by exact issuer). */
export function providerForIssuer(config: Config, iss: unknown): ProviderConfig | undefined {
  if (typeof iss !== 'string') return undefined
  return config.providers.find((p) => p.kind === 'oidc' && issuersOf(p).includes(iss))
}

/** The claims the broker decides on for this provider (GCP instance fields flattened as it does). */
function claimsFor(provider: ProviderConfig, payload: Record<string, unknown>): Record<string, unknown> {
  return provider.kind === 'oidc' && isGcpInstanceProvider(provider) ? gcpInstanceClaims(payload) : payload
}

const MAX_SHOWN = 100

function show(value: unknown): string {
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

function why(check: ClaimCheck, spec: MatcherSpec | undefined): string {
  const want = describeMatcher(spec)
  switch (check.reason) {
    case 'missing':
      return `missing: the token has no ${check.claim} claim (wanted ${want})`
    case 'wrong-type':
      return `wrong type: wanted ${expectedTypes(spec)} (${want}); matching is type-strict`
    default:
      return `no match for ${want}`
  }
}

type Paint = (style: 'ok' | 'bad' | 'dim' | 'bold', text: string) => string

function painter(color: boolean): Paint {
  const codes = { ok: '\x1b[32m', bad: '\x1b[31m', dim: '\x1b[2m', bold: '\x1b[1m' }
  return (style, text) => (color ? `${codes[style]}${text}\x1b[0m` : text)
}

function grantSummary(policy: PolicyConfig): string {
  const { token, aws } = policy.grant
  if (aws) return `role ${aws.roleArn}`
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

function renderPolicy(
  trace: PolicyTrace,
  decision: Decision,
  policy: PolicyConfig | undefined,
  paint: Paint,
): string[] {
  const chosen = decision.allow && decision.policy === trace.policy
  const ok = trace.subjectMatched && trace.targetMatched && trace.scopeMatched
  const mark = ok ? paint('ok', '✓') : paint('bad', '✗')
  const title = chosen ? paint('bold', `policy ${trace.policy}`) : `policy ${trace.policy}`
  const lines = [
    `${mark} ${title}  ${chosen ? paint('ok', policyStatus(trace, decision, policy)) : policyStatus(trace, decision, policy)}`,
  ]
  const width = Math.max(0, ...trace.checks.map((c) => c.claim.length))
  for (const check of trace.checks) {
    const spec = policy?.match[check.claim]
    const name = check.claim.padEnd(width)
    if (check.ok) {
      const how = check.matcher === 'exact' ? '' : paint('dim', `  (${describeMatcher(spec)})`)
      lines.push(`    ${paint('ok', '✓')} ${name}  ${show(check.value)}${how}`)
    } else {
      lines.push(`    ${paint('bad', '✗')} ${name}  ${show(check.value)}  ${paint('bad', why(check, spec))}`)
    }
  }
  if (policy) lines.push(paint('dim', `      grants ${grantSummary(policy)}`))
  return lines
}

function relative(seconds: number): string {
  const abs = Math.abs(seconds)
  const text = abs >= 3600 ? `${Math.round(abs / 3600)}h` : abs >= 60 ? `${Math.round(abs / 60)}m` : `${abs}s`
  return seconds >= 0 ? `in ${text}` : `expired ${text} ago`
}

function tokenLines(
  payload: Record<string, unknown>,
  provider: ProviderConfig | undefined,
  config: Config,
  now: number,
): string[] {
  const lines = [`token      iss ${show(payload.iss)}`, `           sub ${show(payload.sub)}`]
  const aud = payload.aud
  if (provider?.kind === 'oidc') {
    const accepted = provider.audiences ?? [config.issuer]
    const values = Array.isArray(aud) ? aud : [aud]
    const ok = values.some((v) => typeof v === 'string' && accepted.includes(v))
    lines.push(
      `           aud ${show(aud)} (${ok ? 'accepted' : `NOT accepted: provider ${provider.name} accepts ${accepted.join(', ')}`})`,
    )
  } else {
    lines.push(`           aud ${show(aud)}`)
  }
  if (typeof payload.exp === 'number') {
    const iso = Number.isSafeInteger(payload.exp)
      ? new Date(payload.exp * 1000).toISOString()
      : String(payload.exp)
    lines.push(`           exp ${iso} (${relative(Math.round(payload.exp - now / 1000))})`)
  }
  return lines
}

/** Explains a token against a config; returns the text and whether the broker would allow it. */
export function explainToken(input: ExplainInput): { text: string; allowed: boolean } {
  const paint = painter(input.color === true)
  const { header, payload } = decodeToken(input.token)
  const provider = providerForIssuer(input.config, payload.iss)
  const lines = tokenLines(payload, provider, input.config, input.now)
  lines.push(
    `           alg ${show(header.alg)}${header.kid === undefined ? '' : `, kid ${show(header.kid)}`}`,
  )
  const verified = input.verified
  if (!verified)
    lines.push('signature  not verified (decoded only; add --verify to check it against the issuer keys)')
  else if ('error' in verified)
    lines.push(`signature  ${paint('bad', `verification FAILED: ${verified.error}`)}`)
  else lines.push(`signature  ${paint('ok', 'verified')} (signature, issuer, audience and lifetime)`)
  if (!provider) {
    const trusted = input.config.providers.flatMap((p) => (p.kind === 'oidc' ? issuersOf(p) : []))
    lines.push(`provider   ${paint('bad', `none: no oidc provider trusts issuer ${show(payload.iss)}`)}`)
    lines.push(`           trusted issuers: ${trusted.join(', ') || '(none)'}`)
    return { text: `${lines.join('\n')}\n`, allowed: false }
  }
  const preset = provider.kind === 'oidc' && provider.preset ? `, preset ${provider.preset}` : ''
  lines.push(`provider   ${provider.name} (${provider.kind}${preset})`)
  const request = [
    ...input.audiences.map((a) => `audience ${a}`),
    ...input.resources.map((r) => `resource ${r}`),
  ]
  lines.push(
    `request    ${request.length > 0 ? request.join(', ') : 'no audience or resource (only an unambiguous match is answered)'}`,
  )
  lines.push('')

  const claims = verified && 'claims' in verified ? verified.claims : claimsFor(provider, payload)
  const compiled = compilePolicies(input.config)
  const { decision, traces } = explain(compiled, {
    provider: provider.name,
    claims,
    audiences: input.audiences,
    resources: input.resources,
  })
  const byName = new Map(input.config.policies.map((p) => [p.name, p]))
  for (const trace of traces)
    lines.push(...renderPolicy(trace, decision, byName.get(trace.policy), paint), '')
  if (traces.length === 0) lines.push(`no policy names provider ${provider.name}`, '')
  const others = input.config.policies.length - traces.length
  if (others > 0)
    lines.push(
      paint('dim', `(${others} polic${others === 1 ? 'y' : 'ies'} of other providers not shown)`),
      '',
    )

  const signatureOk = !verified || 'claims' in verified
  if (decision.allow) {
    const policy = byName.get(decision.policy)
    lines.push(
      `decision   ${paint('ok', 'allow')}: policy ${decision.policy} grants ${policy ? grantSummary(policy) : '?'}`,
    )
  } else {
    lines.push(`decision   ${paint('bad', `deny (${decision.error})`)}: ${decision.message}`)
  }
  if (!signatureOk)
    lines.push(
      `           ${paint('bad', 'but the token fails verification, so the broker refuses it first')}`,
    )
  return { text: `${lines.join('\n')}\n`, allowed: decision.allow && signatureOk }
}

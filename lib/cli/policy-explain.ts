/**
 * `tessera policy explain`: decode (optionally verify) a token locally and show, per policy of
 * its provider and per claim condition, what matched and why not. Never contacts the broker.
 */
import { decodeJwt, issuersOf } from '../assertion/decode-jwt.js'
import { gcpInstanceClaims, isGcpInstanceProvider } from '../assertion/gcp-instance.js'
import type { Config, ProviderConfig } from '../config/schema.js'
import { compilePolicies } from '../policy/compile.js'
import { explainClaims, painter, show } from '../policy/explain-text.js'

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

/** The claims the broker decides on for this provider (GCP instance fields flattened as the verifier does). */
export function withGcpFlattening(
  provider: ProviderConfig,
  payload: Record<string, unknown>,
): Record<string, unknown> {
  return provider.kind === 'oidc' && isGcpInstanceProvider(provider) ? gcpInstanceClaims(payload) : payload
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

  const claims = verified && 'claims' in verified ? verified.claims : withGcpFlattening(provider, payload)
  const { decision, lines: explained } = explainClaims(
    {
      config: input.config,
      compiled: compilePolicies(input.config, { guardrails: false }),
      provider,
      claims,
      audiences: input.audiences,
      resources: input.resources,
    },
    paint,
  )
  lines.push(...explained)
  const signatureOk = !verified || 'claims' in verified
  if (!signatureOk)
    lines.push(
      `           ${paint('bad', 'but the token fails verification, so the broker refuses it first')}`,
    )
  return { text: `${lines.join('\n')}\n`, allowed: decision.allow && signatureOk }
}

/** Lint rules on providers: tenant pins and the audiences they accept. */
import type { ProviderConfig } from '../config/schema.js'
import type { ConfigRule, RawFinding } from './lint-rules-context.js'
import { quote } from './lint-rules-context.js'

/** The field that pins a cloud provider to the operator's own tenant. */
function tenantField(provider: ProviderConfig): string | undefined {
  switch (provider.kind) {
    case 'aws-iam':
    case 'aws-ec2':
      return 'accounts'
    case 'azure-imds':
      return 'subscriptions'
    case 'oidc':
      return provider.preset === 'gcp' || provider.preset === 'gcp-instance' ? 'projects' : undefined
  }
}

/**
 * Defence in depth: the schema already requires the tenant pin, but this reads the raw value so
 * a schema regression (or a hand-built config) cannot silently trust every tenant of a cloud.
 */
export const tenantUnpinnedRule: ConfigRule = (config) => {
  const findings: RawFinding[] = []
  config.providers.forEach((provider, i) => {
    const field = tenantField(provider)
    if (!field) return
    const raw = (provider as unknown as Record<string, unknown>)[field]
    const ok =
      Array.isArray(raw) &&
      raw.length > 0 &&
      raw.every((v) => typeof v === 'string' && v.trim().length > 0 && !v.includes('*'))
    if (ok) return
    findings.push({
      rule: 'tenant-unpinned',
      severity: 'error',
      message: `provider "${provider.name}" (${provider.kind}${provider.kind === 'oidc' ? ` preset ${provider.preset}` : ''}) does not pin ${field}: identities of every tenant of the cloud would be trusted`,
      hint: `list your own ${field} explicitly, e.g. ${field}: ["${field === 'accounts' ? '111122223333' : 'my-tenant-id'}"]`,
      path: ['providers', i, field],
    })
  })
  return findings
}

/** Audiences other relying parties also accept: a token minted for them would be accepted here too. */
export function sharedAudience(audience: string, provider: ProviderConfig): string | undefined {
  const a = audience.trim().replace(/\/+$/, '')
  const lower = a.toLowerCase()
  if (lower === 'sts.amazonaws.com' || lower === 'https://sts.amazonaws.com')
    return 'AWS STS web identity federation'
  if (lower === 'api://azureadtokenexchange') return 'Microsoft Entra workload identity federation'
  if (/^(https:)?\/\/iam\.googleapis\.com\//i.test(a)) return 'Google Cloud workload identity federation'
  if (/^https:\/\/github\.com\/[^/]+$/i.test(a))
    return "GitHub Actions' default audience (the repository owner's URL)"
  if (/^(https:\/\/)?kubernetes\.default\.svc(\.cluster\.local)?$/i.test(a))
    return "the Kubernetes API server's default audience"
  if (lower === 'sigstore') return 'Sigstore (Fulcio) signing'
  if (provider.kind === 'oidc') {
    const issuers = [provider.issuer, ...provider.issuerAliases].map((i) => i.replace(/\/+$/, ''))
    if (issuers.includes(a))
      return "the issuer's own URL (GitLab's default audience, accepted by any relying party)"
  }
  return undefined
}

/** OIDC providers: audiences unset (implicit), or set to a value shared with other relying parties. */
export const audienceRule: ConfigRule = (config) => {
  const findings: RawFinding[] = []
  config.providers.forEach((provider, i) => {
    if (provider.kind !== 'oidc') return
    if (provider.audiences === undefined) {
      findings.push({
        rule: 'audience-missing',
        severity: 'warning',
        message: `provider "${provider.name}" sets no audiences, so it accepts tokens whose aud is this broker's issuer (${config.issuer})`,
        hint: `state it explicitly, e.g. audiences: ["${config.issuer}"], and have workloads request exactly that audience`,
        path: ['providers', i, 'audiences'],
      })
      return
    }
    provider.audiences.forEach((audience, k) => {
      const shared = sharedAudience(audience, provider)
      if (!shared) return
      findings.push({
        rule: 'audience-shared-default',
        severity: 'error',
        message: `provider "${provider.name}" accepts audience ${quote(audience)}, which is ${shared}: a token a workload obtained for another service could be replayed here`,
        hint: `use an audience unique to this broker, e.g. "${config.issuer}"`,
        path: ['providers', i, 'audiences', k],
      })
    })
  })
  return findings
}

import { stringify } from 'yaml'
import { loadConfigText } from '../../lib/config/load.js'
import type { Config } from '../../lib/config/schema.js'
import { type Finding, lintConfig } from '../../lib/policy/lint.js'

export const ISSUER = 'https://sts.example.com'
export const API = 'https://api.example.com'
export const MAIN = 'repo:acme/app:ref:refs/heads/main'

/** A GitHub Actions match that lints clean: one repo's main, pinned by ids. */
export const SAFE_GITHUB = { sub: MAIN, repository_id: '892345671', repository_owner_id: '1234567' }

export const PROVIDERS = {
  github: { name: 'gha', kind: 'oidc', preset: 'github-actions', audiences: [ISSUER] },
  gitlab: { name: 'gl', kind: 'oidc', preset: 'gitlab', audiences: [ISSUER] },
  kubernetes: {
    name: 'k8s',
    kind: 'oidc',
    preset: 'kubernetes',
    issuer: 'https://k8s.example.com',
    audiences: [ISSUER],
  },
  gcp: { name: 'gce', kind: 'oidc', preset: 'gcp-instance', audiences: [ISSUER], projects: ['acme-prod'] },
  generic: { name: 'idp', kind: 'oidc', issuer: 'https://idp.example.com', audiences: [ISSUER] },
  awsIam: { name: 'iam', kind: 'aws-iam', accounts: ['111122223333'] },
  awsEc2: { name: 'ec2', kind: 'aws-ec2', accounts: ['111122223333'] },
  awsEc2Proof: {
    name: 'ec2-proof',
    kind: 'aws-ec2',
    accounts: ['111122223333'],
    binding: { requireCallerIdentity: true },
  },
  azureImds: { name: 'vm', kind: 'azure-imds', subscriptions: ['0b1f6471-1bf0-4dda-aec3-111122223333'] },
} as const

type ProviderKey = keyof typeof PROVIDERS

/** A raw policy for the given provider key, granting API deploy:write for 10m unless overridden. */
export function policy(
  name: string,
  provider: ProviderKey,
  match: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    provider: PROVIDERS[provider].name,
    match,
    grant: { token: { audience: API, scopes: ['deploy:write'], ttl: '10m' } },
    ...extra,
  }
}

/** A full raw config with every provider the policies name (or those listed). */
export function rawConfig(
  policies: Record<string, unknown>[],
  providers?: ProviderKey[],
): Record<string, unknown> {
  const used = providers ?? (Object.keys(PROVIDERS) as ProviderKey[])
  return { issuer: ISSUER, providers: used.map((k) => PROVIDERS[k]), policies }
}

/** Serialises to YAML, loads it through the real loader and lints with source locations. */
export function lintRaw(raw: Record<string, unknown>): Finding[] {
  const loaded = loadConfigText(stringify(raw), 'test.yaml')
  return lintConfig(loaded.config, loaded)
}

/** Lints policies against all providers. */
export function lintPolicies(...policies: Record<string, unknown>[]): Finding[] {
  return lintRaw(rawConfig(policies))
}

/** `severity:rule` of each finding, for compact assertions. */
export function codes(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.severity}:${f.rule}`)
}

/** Lints an already-parsed config (bypassing the schema, for defence-in-depth rules). */
export function lintParsed(config: Config): Finding[] {
  return lintConfig(config)
}

import { KIND_IDENTITY_CLAIMS, PRESETS, type Preset, type PresetName } from '../config/presets.js'
import type { Config, PolicyConfig, ProviderConfig } from '../config/schema.js'

export type Severity = 'error' | 'warning' | 'info'

/** One lint result; `file`/`line`/`col` are filled when the YAML source is known. */
export interface Finding {
  readonly rule: string
  readonly severity: Severity
  readonly message: string
  readonly hint: string
  readonly path: readonly (string | number)[]
  readonly file?: string
  readonly line?: number
  readonly col?: number
}

/** A finding before it is located in the source. */
export type RawFinding = Omit<Finding, 'file' | 'line' | 'col'>

/** What the rules know about one policy and the provider it names. */
export interface PolicyContext {
  readonly policy: PolicyConfig
  readonly index: number
  readonly provider: ProviderConfig
  /** The preset the provider names, or the one whose issuer it uses (rules about claim content). */
  readonly preset: Preset | undefined
  readonly presetName: PresetName | undefined
  /** True when the provider names its preset explicitly (the identity rule is then an error). */
  readonly explicitPreset: boolean
}

/** A rule over the whole config. */
export type ConfigRule = (config: Config) => RawFinding[]
/** A rule over one policy. */
export type PolicyRule = (ctx: PolicyContext) => RawFinding[]

/** The preset a provider names, or else the one whose default issuer it uses. */
export function effectivePreset(provider: ProviderConfig): PresetName | undefined {
  if (provider.kind !== 'oidc') return undefined
  if (provider.preset) return provider.preset === 'gcp' ? 'gcp-instance' : provider.preset
  for (const name of Object.keys(PRESETS) as PresetName[]) {
    const preset = PRESETS[name]
    if (name !== 'gcp' && preset.issuer !== undefined && preset.issuer === provider.issuer) return name
  }
  return undefined
}

/** Builds a context per policy whose provider exists (unknown providers are compile errors). */
export function policyContexts(config: Config): PolicyContext[] {
  const providers = new Map(config.providers.map((p) => [p.name, p]))
  const out: PolicyContext[] = []
  config.policies.forEach((policy, index) => {
    const provider = providers.get(policy.provider)
    if (!provider) return
    const presetName = effectivePreset(provider)
    out.push({
      policy,
      index,
      provider,
      preset: presetName ? PRESETS[presetName] : undefined,
      presetName,
      explicitPreset: provider.kind === 'oidc' && provider.preset !== undefined,
    })
  })
  return out
}

/** The config path of a policy's claim condition. */
export function matchPath(ctx: PolicyContext, claim: string, ...rest: string[]): (string | number)[] {
  return ['policies', ctx.index, 'match', claim, ...rest]
}

/** Quotes a value for a message, bounded so a huge pattern cannot flood the output. */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

/** The claims that pin one workload for this policy's provider (docs/policies.md "Presets"). */
export function identityClaimsOf(ctx: PolicyContext): readonly string[] {
  if (ctx.provider.kind !== 'oidc') return KIND_IDENTITY_CLAIMS[ctx.provider.kind]
  return ctx.preset?.identityClaims ?? ['sub']
}

import * as z from 'zod'
import { boundedDuration, DurationSchema } from '../duration.js'
import { PRESET_NAMES, PRESETS } from '../presets.js'
import { HttpsUrlSchema, IssuerSchema } from '../url.js'
import { providerCommon } from './common.js'

/** Asymmetric JWS algorithms an assertion may use; `none` and HS* never appear here. */
export const ASSERTION_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number]

const OidcProviderInputSchema = z.strictObject({
  ...providerCommon,
  kind: z.literal('oidc'),
  preset: z.enum(PRESET_NAMES).optional(),
  issuer: IssuerSchema.optional(),
  jwksUri: HttpsUrlSchema.optional(),
  audiences: z.array(z.string().min(1)).min(1).optional(),
  algorithms: z.array(z.enum(ASSERTION_ALGORITHMS)).min(1).optional(),
  maxTokenAge: DurationSchema.optional(),
  replay: z.enum(['once', 'allow']).optional(),
  jwksCacheTtl: boundedDuration(10, 86_400).default(600),
  /** gcp-instance: the GCP project ids whose instances are trusted (tenant pin). */
  projects: z.array(z.string().min(1)).min(1).optional(),
})

/** `kind: oidc`: any OIDC/JWT issuer, optionally with a preset's defaults. */
export const OidcProviderSchema = OidcProviderInputSchema.transform((p, ctx) => {
  const preset = p.preset ? PRESETS[p.preset] : undefined
  const issuer = p.issuer ?? preset?.issuer
  if (!issuer) {
    ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'issuer is required (no preset supplies it)' })
    return z.NEVER
  }
  const gcp = p.preset === 'gcp-instance' || p.preset === 'gcp'
  if (gcp && !p.projects) {
    ctx.addIssue({
      code: 'custom',
      path: ['projects'],
      message: 'gcp-instance providers must pin `projects`',
    })
    return z.NEVER
  }
  if (gcp && p.replay === 'allow') {
    // A VM identity token is a bearer credential for its hour of life: single use is the point.
    ctx.addIssue({
      code: 'custom',
      path: ['replay'],
      message: 'gcp-instance identity tokens are single use: replay must be once (the default)',
    })
    return z.NEVER
  }
  if (!gcp && p.projects) {
    ctx.addIssue({
      code: 'custom',
      path: ['projects'],
      message: 'projects applies only to preset gcp-instance',
    })
    return z.NEVER
  }
  return {
    ...p,
    issuer,
    issuerAliases: (issuer === preset?.issuer ? preset?.issuerAliases : undefined) ?? [],
    jwksUri: p.jwksUri ?? (issuer === preset?.issuer ? preset?.jwksUri : undefined),
    algorithms: p.algorithms ??
      (preset?.algorithms as AssertionAlgorithm[] | undefined) ?? ['RS256', 'ES256'],
    replay: p.replay ?? (gcp ? 'once' : 'allow'),
  }
})
export type OidcProviderConfig = z.output<typeof OidcProviderSchema>

import * as z from 'zod'
import { GCP_INSTANCE_FIELDS } from '../config/presets.js'
import type { OidcProviderConfig } from '../config/providers/oidc.js'
import { InvalidRequest } from '../errors.js'

/** The longest lifetime Google gives a VM identity token (exp − iat), seconds. */
export const GCP_MAX_LIFETIME = 3600

/** The `google.compute_engine` object of a `format=full` VM identity token. */
const ComputeEngineSchema = z.looseObject({
  instance_id: z.string().min(1),
  instance_name: z.string().min(1),
  project_id: z.string().min(1),
  project_number: z.number().int().nonnegative(),
  zone: z.string().min(1),
  instance_creation_timestamp: z.number().int().nonnegative(),
})

/** The flattened instance claims policies match against. */
export type GcpInstanceClaims = z.output<typeof ComputeEngineSchema>

/** True for providers using the `gcp-instance` preset (or its alias `gcp`). */
export function isGcpInstanceProvider(provider: Pick<OidcProviderConfig, 'preset'>): boolean {
  return provider.preset === 'gcp-instance' || provider.preset === 'gcp'
}

/**
 * Post-checks for GCP VM identity tokens, run after the signature and registered claims: RS256,
 * lifetime ≤ 1 h, the full `google.compute_engine` object (absent from `format=standard` tokens
 * and from service-account tokens minted outside a VM), and the project pin. Returns the claims
 * with the instance fields also at top level.
 */
export function checkGcpInstance(
  provider: Pick<OidcProviderConfig, 'projects'>,
  alg: string,
  payload: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (alg !== 'RS256') throw new InvalidRequest('GCP instance identity tokens must be signed with RS256')
  const { exp, iat } = payload
  if (typeof iat !== 'number')
    throw new InvalidRequest('subject_token has no iat claim, required for GCP instances')
  if (typeof exp !== 'number' || exp - iat > GCP_MAX_LIFETIME) {
    throw new InvalidRequest('subject_token lifetime exceeds one hour (exp - iat)')
  }
  const engine = computeEngineOf(payload)
  if (engine === undefined) {
    throw new InvalidRequest(
      'subject_token has no google.compute_engine claims; request a VM identity token with format=full',
    )
  }
  const parsed = ComputeEngineSchema.safeParse(engine)
  if (!parsed.success)
    throw new InvalidRequest('subject_token google.compute_engine claims are incomplete or mistyped')
  const instance = parsed.data
  if (!(provider.projects ?? []).includes(instance.project_id)) {
    throw new InvalidRequest('subject_token GCP project is not trusted by this provider')
  }
  return gcpInstanceClaims(payload)
}

function computeEngineOf(payload: Readonly<Record<string, unknown>>): unknown {
  const google = payload.google
  return typeof google === 'object' && google !== null && !Array.isArray(google)
    ? (google as Record<string, unknown>).compute_engine
    : undefined
}

/**
 * The claims policies match for a GCP VM identity token: the payload with the signed
 * `google.compute_engine` instance fields also at top level, where the nested (Google-signed)
 * value wins over a flat claim of the same name. The verifier and `policy explain` both use it.
 */
export function gcpInstanceClaims(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const engine = computeEngineOf(payload)
  if (typeof engine !== 'object' || engine === null || Array.isArray(engine)) return { ...payload }
  const claims: Record<string, unknown> = { ...payload }
  for (const field of GCP_INSTANCE_FIELDS) {
    const value = (engine as Record<string, unknown>)[field]
    if (value !== undefined) claims[field] = value
  }
  return claims
}

/** JWKs in, node:crypto KeyObjects out: which published keys may verify which algorithm. */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import * as z from 'zod'

/** A public key imported once from a JWK, ready for node:crypto.verify. */
export interface VerificationKey {
  readonly kid: string | undefined
  readonly alg: string | undefined
  readonly kty: 'RSA' | 'EC' | 'OKP'
  readonly crv: string | undefined
  readonly key: KeyObject
}

const JwkSchema = z.looseObject({
  kty: z.enum(['RSA', 'EC', 'OKP']),
  kid: z.string().optional(),
  use: z.string().optional(),
  alg: z.string().optional(),
  key_ops: z.array(z.string()).optional(),
  n: z.string().optional(),
  e: z.string().optional(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
})

const CURVE_OF_ALG: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }
const MIN_RSA_BITS = 2048

/** True when `key` may verify a signature made with `alg` (kty/curve fit, and its own `alg` if any). */
export function keyFitsAlg(key: VerificationKey, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return key.kty === 'RSA'
  const curve = CURVE_OF_ALG[alg]
  if (curve) return key.kty === 'EC' && key.crv === curve
  if (alg === 'EdDSA') return key.kty === 'OKP'
  return false
}

/** Imports one JWK for signature verification, or returns undefined when it is unusable for that. */
export function importJwk(raw: unknown): VerificationKey | undefined {
  const parsed = JwkSchema.safeParse(raw)
  if (!parsed.success) return undefined
  const jwk = parsed.data
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return undefined
  // Only public members reach the importer, so a published private key never becomes one here.
  const material =
    jwk.kty === 'RSA'
      ? { kty: jwk.kty, n: jwk.n, e: jwk.e }
      : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }
  let key: KeyObject
  try {
    key = createPublicKey({ key: material as JsonWebKey, format: 'jwk' })
  } catch {
    return undefined
  }
  if (jwk.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return undefined
  if (jwk.kty === 'EC' && !Object.values(CURVE_OF_ALG).includes(jwk.crv ?? '')) return undefined
  if (jwk.kty === 'OKP' && jwk.crv !== 'Ed25519' && jwk.crv !== 'Ed448') return undefined
  return { kid: jwk.kid, alg: jwk.alg, kty: jwk.kty, crv: jwk.crv, key }
}

/** Picks by kid (when given) among keys that fit the alg; without kid, only an unambiguous fit. */
export function pickKey(
  keys: readonly VerificationKey[],
  alg: string,
  kid: string | undefined,
): VerificationKey | undefined {
  if (kid !== undefined) return keys.find((k) => k.kid === kid && keyFitsAlg(k, alg))
  const fitting = keys.filter((k) => keyFitsAlg(k, alg))
  return fitting.length === 1 ? fitting[0] : undefined
}

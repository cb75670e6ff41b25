import { randomBytes } from 'node:crypto'
import { importJWK, type JWK, SignJWT } from 'jose'
import { accessTokenHash, DPOP_ALGORITHMS, type DpopAlgorithm, proofTarget } from '../dpop/proof.js'
import { loadOrCreateKeyFile } from '../keys/local-signer.js'

/** The proof's public `jwk` holds only the RFC 7638 thumbprint members: never a private one. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
}

/** A client's DPoP key: the private JWK, generated (ES256, mode 0600) when the file is absent. */
export async function loadOrCreateDpopKey(path: string): Promise<JWK> {
  const jwk = await loadOrCreateKeyFile(path, 'ES256')
  dpopAlgorithmOf(jwk)
  return jwk
}

/** What one proof is for (RFC 9449 §4.2). */
export interface ProofRequest {
  readonly method: string
  readonly url: string
  /** For a resource request: the access token, so the proof carries its hash (`ath`). */
  readonly accessToken?: string | undefined
  /** Epoch milliseconds; default now. */
  readonly now?: number | undefined
}

/** Makes a DPoP proof JWT with the private JWK `key`: a fresh `jti`, `htu` without query or fragment. */
export async function createDpopProof(key: JWK, req: ProofRequest): Promise<string> {
  const alg = dpopAlgorithmOf(key)
  const htu = proofTarget(req.url)
  if (htu === undefined) throw new Error(`${req.url} is not an http(s) URL`)
  const publicMembers = PUBLIC_MEMBERS[key.kty ?? ''] ?? []
  const jwk = Object.fromEntries(publicMembers.map((m) => [m, (key as Record<string, unknown>)[m]]))
  const claims: Record<string, unknown> = {
    jti: randomBytes(16).toString('base64url'),
    htm: req.method.toUpperCase(),
    htu,
  }
  if (req.accessToken !== undefined) claims.ath = accessTokenHash(req.accessToken)
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
    .setIssuedAt(Math.floor((req.now ?? Date.now()) / 1000))
    .sign(await importJWK(key, alg))
}

/** ES256 for a P-256 key, RS256 for an RSA key; anything else is refused. */
function dpopAlgorithmOf(key: JWK): DpopAlgorithm {
  const alg = key.kty === 'EC' && key.crv === 'P-256' ? 'ES256' : key.kty === 'RSA' ? 'RS256' : undefined
  if (alg === undefined || !(DPOP_ALGORITHMS as readonly string[]).includes(alg) || typeof key.d !== 'string')
    throw new Error('a DPoP key must be a private P-256 (ES256) or RSA (RS256) JWK')
  if (key.alg !== undefined && key.alg !== alg) throw new Error(`the DPoP key is for ${key.alg}, not ${alg}`)
  return alg
}

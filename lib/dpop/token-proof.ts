import { createHash } from 'node:crypto'
import { InvalidDpopProof } from '../errors.js'
import type { HttpRequest } from '../http/types.js'
import { consumeOnce, replayExpiresAt } from '../store/replay.js'
import type { StateTable } from '../store/types.js'
import { DPOP_IAT_WINDOW, type VerifiedProof, verifyDpopProof } from './proof.js'

/**
 * The DPoP proof of a /token request (RFC 9449 §5), checked without state: undefined when the
 * request has no DPoP header; a present but invalid proof is InvalidDpopProof, whatever the grant.
 * Two DPoP headers arrive joined by a comma and fail as one malformed proof.
 */
export async function checkTokenProof(
  req: HttpRequest,
  tokenEndpoint: string,
  now: number,
): Promise<VerifiedProof | undefined> {
  const proof = req.headers.dpop
  if (proof === undefined) return undefined
  return verifyDpopProof(proof, { method: req.method, url: tokenEndpoint, now })
}

/** What a minter needs for a sender-constrained token. */
export interface ProofBinding {
  readonly extraClaims?: { readonly cnf: { readonly jkt: string } } | undefined
  readonly tokenType: 'Bearer' | 'DPoP'
}

/**
 * Binds the token to the proof's key: refuses a request without a proof when the grant requires
 * one, and spends the proof's `jti` (single use, remembered until its `iat` can no longer pass).
 * Store failures are the caller's to map (they throw as the StateTable throws them).
 */
export async function bindTokenProof(
  table: StateTable,
  proof: VerifiedProof | undefined,
  required: boolean,
): Promise<ProofBinding> {
  if (proof === undefined) {
    if (required) throw new InvalidDpopProof('this grant requires a DPoP proof (a DPoP header)')
    return { tokenType: 'Bearer' }
  }
  // Hashed: jti is client-chosen text, and the same jti under another key is another proof.
  const key = createHash('sha256').update(`${proof.jkt}.${proof.jti}`).digest('base64url')
  // A proof is accepted while floor(now / 1000) <= iat + window (docs/design.md, Replay window).
  const acceptedBeforeMs = (proof.iat + DPOP_IAT_WINDOW + 1) * 1000
  if (!(await consumeOnce(table, `dpop#${key}`, replayExpiresAt(acceptedBeforeMs))))
    throw new InvalidDpopProof('DPoP proof has already been used (jti)').withDetail('dpop-replay')
  return { extraClaims: { cnf: { jkt: proof.jkt } }, tokenType: 'DPoP' }
}

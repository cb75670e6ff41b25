import type { JWK } from 'jose'
import type { SigningAlgorithm } from '../config/schema.js'

/** A signing key behind one narrow interface: local key or AWS KMS alike. */
export interface Signer {
  readonly alg: SigningAlgorithm
  /** RFC 7638 JWK thumbprint of the public key. */
  readonly kid: string
  /** Public JWK with `kid`, `alg` and `use: "sig"`; never private members. */
  readonly publicJwk: JWK
  /** Signs the JWS signing input; returns the JOSE-form signature (r||s for ECDSA). One remote call at most. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>
}

/** The keys in force: one active signer and every public key the JWKS must publish (active first). */
export interface KeyRing {
  readonly active: Signer
  readonly publicKeys: readonly JWK[]
}

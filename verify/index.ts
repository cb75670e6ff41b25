// The package's `./verify` export: verification of Tessera access tokens for the APIs that receive
// them (docs/verify.md). Nothing here reaches into the broker: only jose, the shared DPoP proof
// check and the error classes.

export { accessTokenHash, DPOP_ALGORITHMS } from '../lib/dpop/proof.js'
export {
  TemporarilyUnavailable,
  TokenVerificationError,
  type TokenVerificationErrorCode,
} from '../lib/errors.js'
export type { TokenClaims } from './access-token.js'
export {
  createTokenVerifier,
  type TokenVerifier,
  type TokenVerifierOptions,
  type VerifyRequest,
} from './create-verifier.js'

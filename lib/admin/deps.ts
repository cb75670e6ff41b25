import type { Telemetry } from '../audit/emf-metrics.js'
import type { AuditSink } from '../audit/types.js'
import type { GithubTokenRevoker } from '../github/revoke-token.js'
import type { KeyRing } from '../keys/signer.js'
import type { RevocationList } from '../store/revocations.js'

/** The slice of the revocation list the admin endpoints use. */
export type RevocationAdmin = Pick<RevocationList, 'revoke' | 'lift' | 'isTokenRevoked'>

/**
 * The part of the Broker that admin authentication, `/introspect` and `/revoke` read. A Broker is one
 * as it is; tests pass just these fields.
 */
export interface AdminDeps {
  readonly issuer: string
  readonly keys: KeyRing
  readonly revocations: RevocationAdmin
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly audit?: AuditSink | undefined
  /** Counts `revocations{action}`; absent: not counted. */
  readonly metrics?: Telemetry | undefined
  /** Configured names; `/revoke` refuses to revoke a provider or policy the config does not know (typo guard). */
  readonly config?:
    | {
        readonly providers: readonly { readonly name: string }[]
        readonly policies: readonly { readonly name: string }[]
      }
    | undefined
  /** Revokes GitHub installation tokens at GitHub; absent: such tokens are refused with a 400. */
  readonly githubTokens?: GithubTokenRevoker | undefined
}

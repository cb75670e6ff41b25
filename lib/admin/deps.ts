import type { Telemetry } from '../audit/emf-metrics.js'
import type { AuditSink } from '../audit/types.js'
import type { Broker } from '../broker.js'
import { createGithubTokenRevoker, type GithubTokenRevoker } from '../github/revoke-token.js'
import type { KeyRing } from '../keys/signer.js'
import type { RevocationList } from '../store/revocations.js'

/** The slice of the revocation list the admin endpoints use. */
export type RevocationAdmin = Pick<RevocationList, 'revoke' | 'lift' | 'isTokenRevoked'>

/** What `/introspect` and `/revoke` need; plain data so the cores are unit-testable without a Broker. */
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
  readonly known?:
    | { readonly providers: ReadonlySet<string>; readonly policies: ReadonlySet<string> }
    | undefined
  /** Revokes GitHub installation tokens at GitHub; absent: such tokens are refused with a 400. */
  readonly github?: GithubTokenRevoker | undefined
}

const perBroker = new WeakMap<Broker, AdminDeps>()

/** AdminDeps of a Broker: its revocation list when it has one, else one over its state table (built once). */
export function adminDeps(broker: Broker): AdminDeps {
  let deps = perBroker.get(broker)
  if (!deps) {
    const revocations = broker.revocations
    deps = {
      issuer: broker.issuer,
      keys: broker.keys,
      revocations,
      now: broker.now,
      audit: broker.audit,
      known: {
        providers: new Set(broker.config.providers.map((p) => p.name)),
        policies: new Set(broker.config.policies.map((p) => p.name)),
      },
      github: createGithubTokenRevoker(broker.config.github, { fetch: globalThis.fetch, now: broker.now }),
    }
    perBroker.set(broker, deps)
  }
  return deps
}

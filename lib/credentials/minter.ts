import type { VerifiedSubject } from '../assertion/types.js'
import type { CountMetric } from '../audit/emf-metrics.js'
import type { GrantKind, ResolvedGrant } from '../policy/types.js'
import type { TokenRequest } from '../token/request.js'

/** What a minter knows about the exchange besides the grant and the subject. */
export interface MintContext {
  /** The policy name (client_id). */
  readonly policy: string
  readonly requestId: string
  /** The parsed /token request (audiences, resources, scopes, tokenType…). */
  readonly request: TokenRequest
  /** Epoch milliseconds. */
  readonly now: number
  /** Extra claims for a JWT access token (act, approved_by, cnf); minters that issue no JWT ignore them. */
  readonly extraClaims?: Readonly<Record<string, unknown>> | undefined
  /** token_type of the response: 'DPoP' when the token is sender-constrained, else 'Bearer'. */
  readonly tokenType?: 'Bearer' | 'DPoP' | undefined
}

/** A minted credential: the 200 body and what the audit event records of it. */
export interface Minted {
  /** The JSON 200 body (access_token, issued_token_type, token_type, expires_in, scope, …). */
  readonly body: Readonly<Record<string, unknown>>
  /** What the audit event records under its grant fields; never a secret. */
  readonly granted: Readonly<Record<string, unknown>>
}

/** One grant kind's credential issuer: one module per kind under lib/credentials/. */
export interface Minter<K extends GrantKind = GrantKind> {
  readonly kind: K
  /**
   * The dependency counter a `TemporarilyUnavailable` from `mint` increments (kms_errors for a
   * KMS-signed token, sts_errors for AssumeRole); absent: no counter.
   */
  readonly outageMetric?: Extract<CountMetric, `${string}_errors`> | undefined
  mint(
    grant: Extract<ResolvedGrant, { kind: K }>,
    subject: VerifiedSubject,
    ctx: MintContext,
  ): Promise<Minted>
}

/** A minter of any one kind. */
export type AnyMinter = { [K in GrantKind]: Minter<K> }[GrantKind]

/** The broker's minter map, keyed by each minter's own kind, so a key never names another kind's minter. */
export function mintersByKind(minters: readonly AnyMinter[]): ReadonlyMap<GrantKind, Minter> {
  // Sound: the exchange looks a minter up by the kind of the grant it then passes to it.
  return new Map(minters.map((m) => [m.kind, m as unknown as Minter]))
}

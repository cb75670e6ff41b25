import type { ProviderConfig } from '../config/schema.js'
import type { FormParams } from '../http/form.js'

/** What the exchange hands a verifier: the raw request pieces, never pre-interpreted. */
export interface AssertionInput {
  readonly subjectToken: string
  readonly subjectTokenType: string
  readonly actorToken?: string | undefined
  readonly actorTokenType?: string | undefined
  /** All form parameters (some kinds read extra ones, e.g. `nonce`). */
  readonly params: FormParams
  readonly requestId: string
  readonly sourceIp: string
  /** Epoch milliseconds, from the injected clock. */
  readonly now: number
}

/** A fully verified assertion: the only thing policies ever see. */
export interface VerifiedSubject {
  /** Name of the configured provider that vouched for the subject. */
  readonly provider: string
  readonly kind: ProviderConfig['kind']
  /** The assertion's issuer (the `iss` for OIDC; the STS host, EC2 region, … for cloud kinds). */
  readonly issuer: string
  readonly sub: string
  /** Claims policies match against; includes `sub`. Never logged wholesale. */
  readonly claims: Readonly<Record<string, unknown>>
  /** base64url SHA-256 of the raw subject token, for the audit log. */
  readonly tokenHash: string
  /** Assertion expiry, epoch seconds, when the assertion has one. */
  readonly expiresAt?: number | undefined
  /** Set when the provider demands single use: consumed once, kept until `expiresAt` (epoch s, from replayExpiresAt). */
  readonly replay?: { readonly key: string; readonly expiresAt: number } | undefined
}

/** One verifier per assertion kind (`lib/assertion/<kind>.ts`); it owns all providers of its kind. */
export interface AssertionVerifier {
  /** subject_token_type URIs this verifier accepts. */
  readonly tokenTypes: readonly string[]
  /** actor_token_type URIs this verifier reads; an actor token of any other type is refused before verify(). */
  readonly actorTokenTypes?: readonly string[]
  /** Verifies fully or throws a BrokerError (InvalidRequest for bad input, TemporarilyUnavailable for outages). */
  verify(input: AssertionInput): Promise<VerifiedSubject>
}

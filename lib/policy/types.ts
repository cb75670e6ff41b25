import type { AwsGrant } from '../config/schema.js'
import type { GithubPermissionLevel } from '../github/permissions.js'

/** What the exchange asks the policy engine: a verified subject and the requested target. */
export interface PolicyRequest {
  /** Provider name of the verified subject. */
  readonly provider: string
  readonly claims: Readonly<Record<string, unknown>>
  /** Requested `audience` values (RFC 8693); empty when none were sent. */
  readonly audiences: readonly string[]
  /** Requested `resource` values (RFC 8693 / RFC 8707); empty when none were sent. */
  readonly resources: readonly string[]
  /** Requested scopes; undefined means "all of the grant's scopes". */
  readonly scopes?: readonly string[] | undefined
  /** Restricts which grant kinds may answer (from requested_token_type); undefined = any. */
  readonly grantKinds?: ReadonlySet<GrantKind> | undefined
  /**
   * The verified actor of a delegated request (RFC 8693 actor_token). Only policies with `actor:`
   * match a request that has one, and they match no request without one.
   */
  readonly actor?:
    | { readonly provider: string; readonly claims: Readonly<Record<string, unknown>> }
    | undefined
}

export type GrantKind = 'token' | 'aws' | 'github'

/** A grant resolved for one request. */
export type ResolvedGrant =
  | {
      readonly kind: 'token'
      readonly audience: readonly string[]
      readonly scopes: readonly string[]
      readonly ttl: number
      /** Present when the grant refuses a request without a DPoP proof. */
      readonly dpop?: 'required' | undefined
    }
  | ({ readonly kind: 'aws' } & AwsGrant)
  | {
      readonly kind: 'github'
      /** The `github.apps[].name` whose installation mints the token. */
      readonly app: string
      readonly owner: string
      /** Repository names the token is narrowed to; '*' = every repository of the installation. */
      readonly repositories: '*' | readonly string[]
      readonly permissions: Readonly<Record<string, GithubPermissionLevel>>
    }

export type MatcherKind = 'exact' | 'any-of' | 'glob' | 'regex'
export type MismatchReason = 'missing' | 'wrong-type' | 'no-match'

/** The result of one claim condition. `value` is only filled by `explain` (never in the audit log). */
export interface ClaimCheck {
  readonly claim: string
  readonly matcher: MatcherKind
  readonly ok: boolean
  readonly reason?: MismatchReason | undefined
  readonly value?: unknown
}

/** Why one policy did or did not apply. */
export interface PolicyTrace {
  readonly policy: string
  /** All claim conditions held. */
  readonly subjectMatched: boolean
  /** The policy's grant offers every requested target (true when none was requested). */
  readonly targetMatched: boolean
  /** Requested scopes are within the grant (true when not evaluated). */
  readonly scopeMatched: boolean
  readonly checks: readonly ClaimCheck[]
}

/** Deny by default: only `allow: true` may mint. */
export type Decision =
  | {
      readonly allow: true
      readonly policy: string
      readonly grant: ResolvedGrant
      readonly trace: readonly PolicyTrace[]
    }
  | {
      readonly allow: false
      readonly error: 'invalid_target' | 'invalid_scope'
      /** Safe for the caller: never a pattern, never another policy's data. */
      readonly message: string
      readonly trace: readonly PolicyTrace[]
    }

import type { KeyRing } from '../keys/signer.js'
import { mintAccessToken } from './access-token.js'
import type { Minter } from './minter.js'

/** Creates the minter for `token` grants: an RFC 9068 JWT access token signed by the active key. */
export function createTokenMinter(opts: { issuer: string; keys: KeyRing }): Minter<'token'> {
  return {
    kind: 'token',
    outageMetric: 'kms_errors',
    async mint(grant, subject, ctx) {
      // Read once: a key rotation between signing and auditing must not misreport the kid.
      const signer = opts.keys.active
      const minted = await mintAccessToken(signer, {
        issuer: opts.issuer,
        sub: subject.sub,
        audience: grant.audience,
        scopes: grant.scopes,
        ttl: grant.ttl,
        clientId: ctx.policy,
        idp: subject.provider,
        now: ctx.now,
        extra: ctx.extraClaims,
      })
      const scope = grant.scopes.join(' ')
      return {
        body: {
          access_token: minted.token,
          issued_token_type: ctx.request.tokenType,
          token_type: ctx.tokenType ?? 'Bearer',
          expires_in: grant.ttl,
          ...(scope ? { scope } : {}),
        },
        granted: {
          audience: grant.audience,
          scope,
          ttl: grant.ttl,
          jti: minted.jti,
          kid: signer.kid,
          // The key a DPoP-bound token is bound to (a public thumbprint), so the audit log can tell.
          ...(ctx.tokenType === 'DPoP' ? { token_type: 'DPoP', cnf: ctx.extraClaims?.cnf } : {}),
        },
      }
    },
  }
}

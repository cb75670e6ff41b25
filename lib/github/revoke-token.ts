/**
 * Revoking a GitHub App installation token: `DELETE /installation/token`, authenticated by the
 * token itself. GitHub answers 204 when it revoked it and 401 when the token is already expired or
 * revoked (RFC 7009 §2.2: still a success for the caller).
 */
import type { GithubConfig } from '../config/github.js'
import { InvalidRequest, TemporarilyUnavailable } from '../errors.js'
import { callGithub, type GithubClientDeps } from './client.js'

/** Installation tokens carry GitHub's `ghs_` prefix; a Tessera JWT never does. */
export const INSTALLATION_TOKEN_PREFIX = 'ghs_'
/** The `token_type_hint` naming an installation token whatever its form. */
export const INSTALLATION_TOKEN_HINT = 'github_installation_token'

export interface GithubTokenRevoker {
  /** The App whose API the token is sent to: `app`, or the only configured App. */
  resolveApp(app: string | undefined): string
  /** `revoked` (GitHub revoked it now) or `inactive` (already expired or revoked). */
  revoke(app: string, token: string): Promise<'revoked' | 'inactive'>
}

/** Creates the revoker over the configured Apps (none configured: every call is refused with a 400). */
export function createGithubTokenRevoker(
  github: GithubConfig | undefined,
  deps: GithubClientDeps,
): GithubTokenRevoker {
  const apis = new Map((github?.apps ?? []).map((a) => [a.name, a.apiUrl]))
  return {
    resolveApp(app) {
      if (app !== undefined) {
        if (!apis.has(app)) throw new InvalidRequest(`no GitHub App named ${app} is configured`)
        return app
      }
      if (apis.size === 0) throw new InvalidRequest('no GitHub App is configured on this broker')
      if (apis.size > 1) throw new InvalidRequest('several GitHub Apps are configured: name one with app')
      return [...apis.keys()][0] as string
    },
    async revoke(app, token) {
      const apiUrl = apis.get(app)
      if (apiUrl === undefined) throw new InvalidRequest(`no GitHub App named ${app} is configured`)
      // A header value cannot carry control characters; such a token was never GitHub's.
      if (!/^[\x21-\x7e]{1,4096}$/.test(token)) return 'inactive'
      const answer = await callGithub(
        apiUrl,
        { method: 'DELETE', path: '/installation/token', authorization: `Bearer ${token}` },
        deps,
      )
      if (answer.status === 204) return 'revoked'
      if (answer.status === 401 || answer.status === 404) return 'inactive'
      throw new TemporarilyUnavailable('GitHub is unavailable; retry later').withDetail(
        `DELETE /installation/token: HTTP ${answer.status}`,
      )
    },
  }
}

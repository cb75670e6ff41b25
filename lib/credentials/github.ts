/**
 * The minter of `github` grants: a GitHub App installation token narrowed to the grant's
 * repositories and permissions (already narrowed further by `resource` and `scope`). One app JWT
 * per ~8 minutes per App, one installation lookup per owner per 10 minutes, then one
 * `POST /app/installations/{id}/access_tokens` per exchange. The token itself never reaches a log:
 * the audit records its GitHub-style hash.
 */
import * as z from 'zod'
import { TokenTypes } from '../assertion/token-types.js'
import type { VerifiedSubject } from '../assertion/types.js'
import type { AuditSink } from '../audit/types.js'
import type { GithubAppConfig, GithubConfig } from '../config/github.js'
import { GithubAppAuthFailed, InvalidTarget, TemporarilyUnavailable } from '../errors.js'
import { type AppJwtSource, createAppJwtSource } from '../github/app-jwt.js'
import { type AppKeyOptions, loadAppSigner } from '../github/app-key.js'
import { callGithub, type GithubAnswer, githubDeadline } from '../github/client.js'
import { createInstallationCache, type InstallationCache } from '../github/installations.js'
import { isAtOrBelow, isKnownPermission, permissionScope } from '../github/permissions.js'
import { githubTokenHash } from '../github/token-hash.js'
import type { Signer } from '../keys/signer.js'
import type { ResolvedGrant } from '../policy/types.js'
import type { MintContext, Minter } from './minter.js'

type GithubGrant = Extract<ResolvedGrant, { kind: 'github' }>

export interface GithubMinterOptions {
  readonly fetch?: typeof globalThis.fetch
  /** Epoch ms. */
  readonly now?: () => number
  readonly audit?: AuditSink | undefined
  /** Overrides how an App's signer is loaded (tests inject a key); default: KMS or the local PEM. */
  readonly loadSigner?: (app: GithubAppConfig) => Promise<Signer>
  readonly keys?: AppKeyOptions
  /** Budget for all GitHub calls of one exchange, ms; default the AWS deadline (5 s). */
  readonly deadlineMs?: number
}

/** What Tessera relies on in GitHub's token answer; anything else it sends is ignored. */
const TokenAnswerSchema = z.object({
  token: z.string().regex(/^ghs_[\x21-\x7e]{16,4000}$/),
  expires_at: z.iso.datetime({ offset: true }),
  permissions: z.record(z.string(), z.string()),
  repositories: z.array(z.object({ name: z.string().min(1) })).optional(),
})

interface AppRuntime {
  readonly config: GithubAppConfig
  readonly jwt: AppJwtSource
  readonly installations: InstallationCache
}

const unavailable = (detail: string) =>
  new TemporarilyUnavailable('GitHub is unavailable; retry later').withDetail(detail)

/** Creates the minter for `github` grants over the configured Apps (keys are loaded on first use). */
export function createGithubMinter(github: GithubConfig, opts: GithubMinterOptions = {}): Minter<'github'> {
  const fetch = opts.fetch ?? globalThis.fetch
  const now = opts.now ?? Date.now
  const load = opts.loadSigner ?? ((app: GithubAppConfig) => loadAppSigner(app, opts.keys))
  const apps = new Map<string, AppRuntime>()
  for (const config of github.apps) {
    let signer: Promise<Signer> | undefined
    const loadOnce = () => {
      signer ??= load(config).catch((err: unknown) => {
        signer = undefined // a KMS outage at first use must not stick
        if (err instanceof TemporarilyUnavailable) throw err
        throw unavailable(`GitHub App ${config.name} key: ${(err as Error)?.message ?? String(err)}`)
      })
      return signer
    }
    apps.set(config.name, {
      config,
      jwt: createAppJwtSource({ iss: config.appId ?? config.clientId ?? '', signer: loadOnce, now }),
      installations: createInstallationCache({ app: config.name, now }),
    })
  }
  const deps = { fetch, now }

  const appCall = async (
    app: AppRuntime,
    method: 'GET' | 'POST',
    path: string,
    deadline: number,
    body?: unknown,
  ): Promise<GithubAnswer> => {
    const jwt = await app.jwt.get()
    return callGithub(
      app.config.apiUrl,
      { method, path, authorization: `Bearer ${jwt}`, ...(body === undefined ? {} : { body }) },
      deps,
      deadline,
    )
  }

  const mintToken = async (
    app: AppRuntime,
    grant: GithubGrant,
    ctx: Pick<MintContext, 'policy' | 'requestId'>,
  ) => {
    // One budget for the lookup and the token call: the caller gets its answer within it.
    const deadline = githubDeadline(opts.deadlineMs)
    const id = await app.installations.lookup(grant.owner, (path) => appCall(app, 'GET', path, deadline))
    const request = {
      ...(grant.repositories === '*' ? {} : { repositories: [...grant.repositories] }),
      permissions: { ...grant.permissions },
    }
    const answer = await appCall(app, 'POST', `/app/installations/${id}/access_tokens`, deadline, request)
    if (answer.status === 401)
      throw new GithubAppAuthFailed(app.config.name).withDetail('access_tokens: HTTP 401')
    if (answer.status === 404 || answer.status === 422) {
      if (answer.status === 404) app.installations.forget(grant.owner)
      throw new InvalidTarget(
        `GitHub refused the repositories or permissions of policy ${ctx.policy}: the App ${app.config.name} installation on ${grant.owner} does not have them`,
      ).withDetail(`access_tokens: HTTP ${answer.status}`)
    }
    if (answer.status !== 201 && answer.status !== 200)
      throw unavailable(`access_tokens: HTTP ${answer.status}`)
    const parsed = TokenAnswerSchema.safeParse(answer.json)
    if (!parsed.success) throw unavailable('access_tokens: unexpected answer shape')
    return parsed.data
  }

  return {
    kind: 'github',
    outageMetric: 'github_errors',
    /** Mints an installation token for the grant; refusals are 400 invalid_target, GitHub trouble 503. */
    async mint(grant: GithubGrant, subject: VerifiedSubject, ctx: MintContext) {
      const app = apps.get(grant.app)
      // Config load refuses a grant naming an unknown App; reaching this means it was bypassed.
      if (!app) throw new InvalidTarget(`no GitHub App named ${grant.app} is configured`)
      let token: z.infer<typeof TokenAnswerSchema>
      try {
        token = await mintToken(app, grant, ctx)
      } catch (err) {
        if (err instanceof GithubAppAuthFailed) {
          app.jwt.invalidate()
          opts.audit?.emit({
            event: 'github.app_auth_failed',
            level: 'ERROR',
            request_id: ctx.requestId,
            time: new Date(now()).toISOString(),
            app: grant.app,
            owner: grant.owner,
            policy: ctx.policy,
            provider: subject.provider,
            reason: err.detail,
          })
        }
        throw err
      }
      const granted = checkAnswer(grant, token)
      const expiresIn = Math.floor((Date.parse(token.expires_at) - now()) / 1000)
      if (expiresIn <= 0) throw unavailable(`access_tokens: token already expired at ${token.expires_at}`)
      const scope = permissionScope(granted.permissions)
      return {
        body: {
          access_token: token.token,
          issued_token_type: TokenTypes.accessToken,
          token_type: 'Bearer',
          expires_in: expiresIn,
          scope,
          ...(granted.repositories === '*' ? {} : { repositories: granted.repositories }),
        },
        granted: {
          github: {
            app: grant.app,
            owner: grant.owner,
            repositories: granted.repositories,
            permissions: granted.permissions,
            expires_at: token.expires_at,
          },
          issued_token_hash: githubTokenHash(token.token),
        },
      }
    },
  }
}

/**
 * Fails closed when GitHub's answer is broader than what was asked (a permission above the
 * request, other than the `metadata: read` GitHub adds itself, or a repository not asked for).
 */
function checkAnswer(
  grant: GithubGrant,
  token: { permissions: Record<string, string>; repositories?: { name: string }[] | undefined },
) {
  for (const [name, level] of Object.entries(token.permissions)) {
    const asked = Object.hasOwn(grant.permissions, name) ? grant.permissions[name] : undefined
    const ok =
      isKnownPermission(name, level) &&
      ((asked !== undefined && isAtOrBelow(level as 'read', asked)) ||
        (name === 'metadata' && level === 'read'))
    if (!ok) throw unavailable(`access_tokens: GitHub granted ${name}:${level}, which was not asked for`)
  }
  let repositories: '*' | readonly string[] = grant.repositories
  if (grant.repositories !== '*') {
    const names = token.repositories?.map((r) => r.name) ?? [...grant.repositories]
    const asked = new Set(grant.repositories.map((r) => r.toLowerCase()))
    if (!names.every((n) => asked.has(n.toLowerCase())))
      throw unavailable('access_tokens: GitHub granted a repository that was not asked for')
    repositories = names
  }
  return { permissions: token.permissions, repositories }
}

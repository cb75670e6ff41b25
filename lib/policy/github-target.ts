/**
 * How a `github` grant is selected and narrowed: `resource=<web URL>/<owner>` names every repository
 * of the grant, `resource=<web URL>/<owner>/<repo>` one of them, and `scope` (`name:level` pairs)
 * lowers the permissions. Pure and request-size linear; nothing here talks to GitHub.
 */
import { type GithubAppConfig, type GithubGrant, githubWebUrl } from '../config/github.js'
import { type GithubPermissionLevel, isAtOrBelow, isKnownPermission } from '../github/permissions.js'
import type { ResolvedGrant } from './types.js'

export type GithubResolvedGrant = Extract<ResolvedGrant, { kind: 'github' }>

/** A github grant, precompiled: its owner URL, the repository URLs it offers, the whole grant. */
export interface CompiledGithub {
  /** `<web URL>/<owner>`: names the whole grant. */
  readonly ownerUrl: string
  /** Repositories offered; undefined for `["*"]` (any repository of the installation). */
  readonly repositories: ReadonlySet<string> | undefined
  /** Targets for the exact index: the owner URL and each repository URL. */
  readonly targets: readonly string[]
  /** The grant when neither resource nor scope narrows it. */
  readonly whole: GithubResolvedGrant
}

/** Compiles a github grant against its (configured) app. */
export function compileGithub(grant: GithubGrant, app: GithubAppConfig): CompiledGithub {
  const ownerUrl = `${githubWebUrl(app.apiUrl)}/${grant.owner}`
  const all = grant.repositories.length === 1 && grant.repositories[0] === '*'
  const repositories = all ? undefined : new Set(grant.repositories)
  const targets = Object.freeze([
    ownerUrl,
    ...(repositories ? [...repositories].map((r) => `${ownerUrl}/${r}`) : []),
  ])
  const whole: GithubResolvedGrant = Object.freeze({
    kind: 'github',
    app: grant.app,
    owner: grant.owner,
    repositories: repositories ? Object.freeze([...repositories]) : '*',
    permissions: Object.freeze({ ...(grant.permissions as Record<string, GithubPermissionLevel>) }),
  })
  return { ownerUrl, repositories, targets, whole }
}

/** The owner URL a repository URL belongs to (`https://github.com/acme/app` → `https://github.com/acme`). */
export function parentUrl(target: string): string | undefined {
  const slash = target.lastIndexOf('/')
  return slash > 0 ? target.slice(0, slash) : undefined
}

const REPOSITORY = /^[A-Za-z0-9._-]{1,100}$/

/** The repository a target names under this grant ('*' for the owner URL), or undefined when not offered. */
function repositoryOf(g: CompiledGithub, target: string): string | undefined {
  if (target === g.ownerUrl) return '*'
  if (parentUrl(target) !== g.ownerUrl) return undefined
  const repo = target.slice(g.ownerUrl.length + 1)
  if (!REPOSITORY.test(repo) || repo === '.' || repo === '..') return undefined
  if (g.repositories !== undefined && !g.repositories.has(repo)) return undefined
  return repo
}

/** True when the grant offers this target (its owner URL, or one of its repositories' URLs). */
export function githubOffers(g: CompiledGithub, target: string): boolean {
  return repositoryOf(g, target) !== undefined
}

/** Requested `name:level` scopes as a permission map, or undefined when one is malformed or repeated. */
function requestedPermissions(scopes: readonly string[]): Record<string, GithubPermissionLevel> | undefined {
  const out: Record<string, GithubPermissionLevel> = Object.create(null)
  for (const scope of scopes) {
    const colon = scope.indexOf(':')
    if (colon <= 0) return undefined
    const name = scope.slice(0, colon)
    const level = scope.slice(colon + 1)
    if (!isKnownPermission(name, level) || Object.hasOwn(out, name)) return undefined
    out[name] = level as GithubPermissionLevel
  }
  return out
}

/** True when every requested `name:level` is a permission of the grant at or below its level. */
export function githubCoversScopes(g: CompiledGithub, scopes: readonly string[] | undefined): boolean {
  if (scopes === undefined) return true
  const requested = requestedPermissions(scopes)
  if (requested === undefined) return false
  for (const [name, level] of Object.entries(requested)) {
    const ceiling = Object.hasOwn(g.whole.permissions, name) ? g.whole.permissions[name] : undefined
    if (ceiling === undefined || !isAtOrBelow(level, ceiling)) return false
  }
  return true
}

/**
 * The grant narrowed to the request: the repositories its targets name (all of the grant's when
 * the owner URL or nothing is named) and the permissions its scopes name (all when none).
 * Only called once githubOffers and githubCoversScopes accepted the request.
 */
export function resolveGithubGrant(
  g: CompiledGithub,
  targets: readonly string[],
  scopes: readonly string[] | undefined,
): GithubResolvedGrant {
  let repositories: GithubResolvedGrant['repositories'] = g.whole.repositories
  const named = targets.map((t) => repositoryOf(g, t))
  if (named.length > 0 && !named.includes('*')) {
    repositories = Object.freeze([...new Set(named.filter((r): r is string => r !== undefined))])
  }
  const permissions = scopes === undefined ? g.whole.permissions : requestedPermissions(scopes)
  if (permissions === undefined) throw new Error('scopes were not checked before resolving the grant')
  if (repositories === g.whole.repositories && permissions === g.whole.permissions) return g.whole
  return Object.freeze({ ...g.whole, repositories, permissions: Object.freeze({ ...permissions }) })
}

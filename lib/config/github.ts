import * as z from 'zod'
import { isKnownPermission, permissionLevels } from '../github/permissions.js'
import type { ConfigProblem } from './check.js'
import { NameSchema } from './providers/common.js'
import { HttpsUrlSchema } from './url.js'

export const GITHUB_API_URL = 'https://api.github.com'

/** A GitHub account login (organization or user): 1-39 letters, digits or inner hyphens. */
export const GithubOwnerSchema = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/, 'must be a GitHub organization or user login')

/** A repository name as GitHub allows it (not `.` or `..`). */
export const GithubRepositorySchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository name (letters, digits, ., _ or -)')
  .refine((name) => name !== '.' && name !== '..', 'must be a GitHub repository name')

/** The App's private key: an AWS KMS RSA_2048 key holding the imported key, or a local PEM (development). */
const GithubPrivateKeySchema = z.union([
  z.strictObject({ kms: z.string().min(1) }),
  z.strictObject({ local: z.string().min(1) }),
])

export const GithubAppSchema = z
  .strictObject({
    name: NameSchema,
    /** The app JWT's `iss`: the numeric App ID (quote it in YAML) or the App's client ID. */
    appId: z
      .union([z.string().regex(/^\d{1,20}$/, 'must be the numeric App ID'), z.number().int().positive()])
      .transform(String)
      .optional(),
    clientId: z
      .string()
      .regex(/^Iv[0-9A-Za-z._-]{1,64}$/, 'must be the App client ID (Iv…)')
      .optional(),
    privateKey: GithubPrivateKeySchema,
    /** REST API base: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
    apiUrl: HttpsUrlSchema.refine(
      (u) => !new URL(u).search && !u.includes('?'),
      'apiUrl must not have a query',
    )
      .transform((u) => u.replace(/\/+$/, ''))
      .default(GITHUB_API_URL),
  })
  .refine((a) => (a.appId === undefined) !== (a.clientId === undefined), {
    message: 'a GitHub App has exactly one of `appId` or `clientId`',
  })
export type GithubAppConfig = z.output<typeof GithubAppSchema>

export const GithubConfigSchema = z.strictObject({
  apps: z.array(GithubAppSchema).min(1),
})
export type GithubConfig = z.output<typeof GithubConfigSchema>

// zod's record silently drops a `__proto__` key: refuse it before, so nothing configured disappears.
const PermissionsSchema = z
  .custom<unknown>((raw) => !(typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__')), {
    message: '__proto__ cannot be a permission name',
  })
  .pipe(z.record(z.string(), z.string()))
  .superRefine((permissions, ctx) => {
    for (const [name, level] of Object.entries(permissions)) {
      if (isKnownPermission(name, level)) continue
      const levels = permissionLevels(name)
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: levels
          ? `${level} is not a level GitHub documents for ${name} (${levels.join(', ')})`
          : `${name} is not a permission GitHub documents for installation access tokens`,
      })
    }
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'name at least one permission' })

export const GithubGrantSchema = z.strictObject({
  /** The `github.apps[].name` whose installation mints the token. */
  app: NameSchema,
  owner: GithubOwnerSchema,
  /** Repositories of `owner`; `["*"]` = every repository of the installation (lint: needs allowBroad). */
  repositories: z
    .union([z.tuple([z.literal('*')]), z.array(GithubRepositorySchema).min(1).max(500)])
    .refine((r) => new Set(r).size === r.length, { message: 'a repository is listed twice' }),
  permissions: PermissionsSchema,
})
export type GithubGrant = z.output<typeof GithubGrantSchema>

/**
 * The web URL that `resource` values name for an API URL: https://github.com for
 * https://api.github.com, https://HOST for https://HOST/api/v3 (GHES), the API origin otherwise.
 */
export function githubWebUrl(apiUrl: string): string {
  const url = new URL(apiUrl)
  if (url.origin === GITHUB_API_URL) return 'https://github.com'
  return url.origin
}

/** Cross-section checks: app names unique, and every github grant naming a configured app. */
export function githubProblems(config: {
  readonly github?: GithubConfig | undefined
  readonly policies: readonly { readonly grant: { readonly github?: GithubGrant | undefined } }[]
}): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const apps = new Set<string>()
  config.github?.apps.forEach((app, i) => {
    if (apps.has(app.name))
      problems.push([['github', 'apps', i, 'name'], `duplicate GitHub App name ${app.name}`])
    apps.add(app.name)
  })
  config.policies.forEach((policy, i) => {
    const grant = policy.grant.github
    if (grant && !apps.has(grant.app)) {
      problems.push([
        ['policies', i, 'grant', 'github', 'app'],
        `no GitHub App named ${grant.app} is configured under github.apps`,
      ])
    }
  })
  return problems
}

/**
 * The permissions GitHub documents for installation access tokens (the `permissions` body of
 * `POST /app/installations/{id}/access_tokens`, REST API 2022-11-28), each with the levels GitHub
 * accepts for it. A name or level outside this table is a config error: GitHub would refuse it at
 * exchange time, or worse, a typo would silently grant nothing the workload expects.
 */
export const GITHUB_PERMISSION_LEVELS = ['read', 'write', 'admin'] as const
export type GithubPermissionLevel = (typeof GITHUB_PERMISSION_LEVELS)[number]

const RW = ['read', 'write'] as const
const RWA = ['read', 'write', 'admin'] as const
const R = ['read'] as const
const W = ['write'] as const

export const GITHUB_PERMISSIONS: Readonly<Record<string, readonly GithubPermissionLevel[]>> = Object.freeze({
  // Repository permissions
  actions: RW,
  administration: RW,
  artifact_metadata: RW,
  attestations: RW,
  checks: RW,
  codespaces: RW,
  contents: RW,
  dependabot_secrets: RW,
  deployments: RW,
  discussions: RW,
  environments: RW,
  issues: RW,
  merge_queues: RW,
  metadata: RW,
  packages: RW,
  pages: RW,
  pull_requests: RW,
  repository_custom_properties: RW,
  repository_hooks: RW,
  repository_projects: RWA,
  secret_scanning_alerts: RW,
  secrets: RW,
  security_events: RW,
  single_file: RW,
  statuses: RW,
  vulnerability_alerts: RW,
  workflows: W,
  // Organization permissions
  custom_properties_for_organizations: RW,
  members: RW,
  organization_administration: RW,
  organization_custom_roles: RW,
  organization_custom_org_roles: RW,
  organization_custom_properties: RWA,
  organization_copilot_seat_management: W,
  organization_announcement_banners: RW,
  organization_events: R,
  organization_hooks: RW,
  organization_personal_access_tokens: RW,
  organization_personal_access_token_requests: RW,
  organization_plan: R,
  organization_projects: RWA,
  organization_packages: RW,
  organization_secrets: RW,
  organization_self_hosted_runners: RW,
  organization_user_blocking: RW,
  team_discussions: RW,
  // Account (user) permissions
  email_addresses: RW,
  followers: RW,
  git_ssh_keys: RW,
  gpg_keys: RW,
  interaction_limits: RW,
  profile: W,
  starring: RW,
  // Enterprise permissions
  enterprise_custom_properties_for_organizations: RWA,
})

const RANK: Readonly<Record<GithubPermissionLevel, number>> = { read: 1, write: 2, admin: 3 }

/** The levels GitHub accepts for `name`, or undefined when GitHub documents no such permission. */
export function permissionLevels(name: string): readonly GithubPermissionLevel[] | undefined {
  return Object.hasOwn(GITHUB_PERMISSIONS, name) ? GITHUB_PERMISSIONS[name] : undefined
}

/** True when `name: level` is a permission GitHub documents for installation tokens. */
export function isKnownPermission(name: string, level: string): boolean {
  return (permissionLevels(name) as readonly string[] | undefined)?.includes(level) === true
}

/** True when `level` grants no more than `ceiling` (read < write < admin). */
export function isAtOrBelow(level: GithubPermissionLevel, ceiling: GithubPermissionLevel): boolean {
  return RANK[level] <= RANK[ceiling]
}

/** Permissions that can take over a repository or organization when granted above `read`. */
export function isDangerousPermission(name: string, level: GithubPermissionLevel): boolean {
  if (level === 'read') return false
  return (
    name === 'administration' ||
    name === 'secrets' ||
    name === 'workflows' ||
    name.startsWith('organization_')
  )
}

/** `name:level` pairs, sorted by name: the scope string of a GitHub grant. */
export function permissionScope(permissions: Readonly<Record<string, string>>): string {
  return Object.keys(permissions)
    .sort()
    .map((name) => `${name}:${permissions[name]}`)
    .join(' ')
}

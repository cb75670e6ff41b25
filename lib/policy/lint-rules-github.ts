/** Lint rules on `github` grants: permissions GitHub does not document, dangerous ones, every repository. */
import { isDangerousPermission, isKnownPermission, permissionLevels } from '../github/permissions.js'
import type { PolicyRule, RawFinding } from './lint-rules-context.js'

/** True for a github grant of `repositories: ["*"]`. */
export function grantsAllRepositories(repositories: readonly string[] | undefined): boolean {
  return repositories?.length === 1 && repositories[0] === '*'
}

/**
 * Defence in depth: the schema already refuses a name or level GitHub does not document, but this
 * reads the raw grant so a schema regression (or a hand-built config) cannot slip a typo through.
 */
export const githubPermissionUnknownRule: PolicyRule = (ctx) => {
  const grant = ctx.policy.grant.github
  if (!grant) return []
  const findings: RawFinding[] = []
  for (const [name, level] of Object.entries(grant.permissions as Record<string, unknown>)) {
    if (typeof level === 'string' && isKnownPermission(name, level)) continue
    const levels = permissionLevels(name)
    findings.push({
      rule: 'github-permission-unknown',
      severity: 'error',
      message: levels
        ? `policy "${ctx.policy.name}": ${String(level)} is not a level GitHub documents for ${name}`
        : `policy "${ctx.policy.name}": ${name} is not a permission GitHub documents for installation tokens`,
      hint: levels
        ? `use one of: ${levels.join(', ')}`
        : 'use a permission name from GitHub\'s "Create an installation access token for an app" documentation (snake_case, e.g. pull_requests)',
      path: ['policies', ctx.index, 'grant', 'github', 'permissions', name],
    })
  }
  return findings
}

/** Write access to administration, secrets, workflows or organization settings can take over the account. */
export const githubPermissionDangerousRule: PolicyRule = (ctx) => {
  const grant = ctx.policy.grant.github
  if (!grant) return []
  const findings: RawFinding[] = []
  for (const [name, level] of Object.entries(grant.permissions)) {
    if (!isKnownPermission(name, level) || !isDangerousPermission(name, level as 'write')) continue
    findings.push({
      rule: 'github-permission-dangerous',
      severity: 'warning',
      message: `policy "${ctx.policy.name}" grants ${name}: ${level} on ${grant.owner}`,
      hint:
        name === 'workflows'
          ? 'workflows: write lets the token rewrite CI workflows (and so run code with their secrets); grant it only to a release job pinned to one ref'
          : `${name} above read can change settings, secrets or membership; prefer read, or a separate policy with approval`,
      path: ['policies', ctx.index, 'grant', 'github', 'permissions', name],
    })
  }
  return findings
}

/** `repositories: ["*"]` reaches every repository of the installation, including ones added later. */
export const githubAllRepositoriesRule: PolicyRule = (ctx) => {
  const grant = ctx.policy.grant.github
  if (!grant || !grantsAllRepositories(grant.repositories)) return []
  const path = ['policies', ctx.index, 'grant', 'github', 'repositories']
  if (ctx.policy.allowBroad !== undefined) {
    return [
      {
        rule: 'github-all-repositories',
        severity: 'info',
        message: `policy "${ctx.policy.name}" grants every repository of ${grant.owner} (acknowledged: ${ctx.policy.allowBroad})`,
        hint: 'allowBroad is set; review that the reason still holds',
        path,
      },
    ]
  }
  return [
    {
      rule: 'github-all-repositories',
      severity: 'error',
      message: `policy "${ctx.policy.name}" grants every repository of ${grant.owner}, including any added later`,
      hint: 'list the repositories the workload needs; if every repository is deliberate, add allowBroad: "<reason>" to the policy',
      path,
    },
  ]
}

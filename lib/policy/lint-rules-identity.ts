/** Lint rules on who a policy admits: an identity condition at all, and names pinned by ids. */
import { hasImmutableOwner, isImmutableSegment } from './github-subject.js'
import { identityClaimsOf, matchPath, type PolicyRule, type RawFinding } from './lint-rules-context.js'
import { isLiteral, skeletons } from './lint-rules-skeleton.js'

const IDENTITY_HINTS: Readonly<Record<string, string>> = {
  'github-actions':
    'add sub: "repo:OWNER/REPO:ref:refs/heads/main" with repository_id and repository_owner_id',
  gitlab: 'add sub: "project_path:GROUP/PROJECT:ref_type:branch:ref:main" with project_id',
  kubernetes: 'add sub: "system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT"',
  'gcp-instance': 'add google.compute_engine.instance_id (or sub, the service account id)',
  azure: 'add oid (the managed identity or service principal object id) or sub',
  'aws-iam': 'add role (or arn / principal_id) naming the IAM role',
  'aws-ec2': 'add instance_id, image_id or role',
  'azure-imds': 'add vm_id',
}

/** A policy with no condition on any identity claim admits every workload of its provider. */
export const identityUnpinnedRule: PolicyRule = (ctx) => {
  const claims = identityClaimsOf(ctx)
  if (claims.some((c) => ctx.policy.match[c] !== undefined)) return []
  const key = ctx.provider.kind === 'oidc' ? ctx.presetName : ctx.provider.kind
  const known = ctx.provider.kind === 'oidc' && ctx.presetName === undefined
  return [
    {
      rule: 'identity-unpinned',
      severity: ctx.explicitPreset ? 'error' : 'warning',
      message: `policy "${ctx.policy.name}" has no condition on the workload's identity (${claims.join(', ')}): any workload of provider "${ctx.provider.name}" that meets the other conditions is admitted`,
      hint:
        (key ? IDENTITY_HINTS[key] : undefined) ??
        (known
          ? 'add a condition on sub (Tessera cannot know which other claims of this issuer pin a workload)'
          : 'add sub'),
      path: ['policies', ctx.index, 'match'],
    },
  ]
}

/**
 * The `repo:OWNER/REPO` or `project_path:PATH` segment of a sub matcher, when literal in every
 * alternative; `ids` tells which ids every alternative carries (GitHub's immutable form
 * `repo:OWNER-OWNERID/REPO-REPOID`, which pins them as the id claims would).
 */
function subName(subSpec: Parameters<typeof skeletons>[0] | undefined, prefix: string) {
  if (subSpec === undefined) return undefined
  let owner: string | undefined
  let full = true
  let ownerId = prefix === 'repo:'
  let repositoryId = prefix === 'repo:'
  for (const text of skeletons(subSpec)) {
    if (!text.startsWith(prefix)) return undefined
    const segment = text.slice(prefix.length).split(':')[0] ?? ''
    const first = segment.split('/')[0] ?? ''
    if (!isLiteral(first)) return undefined
    owner = first
    if (!isLiteral(segment)) full = false
    ownerId &&= hasImmutableOwner(first)
    repositoryId &&= isLiteral(segment) && isImmutableSegment(segment)
  }
  if (owner === undefined) return undefined
  const ids = new Set<string>()
  if (ownerId) ids.add('repository_owner_id')
  if (repositoryId) ids.add('repository_id').add('repository_owner_id')
  return { owner, full, ids }
}

interface NameUse {
  readonly claim: string
  readonly what: string
  readonly pins: readonly string[]
}

/** GitHub and GitLab names can be re-registered after a rename or deletion; ids cannot. */
export const nameWithoutIdRule: PolicyRule = (ctx) => {
  const match = ctx.policy.match
  const uses: NameUse[] = []
  if (ctx.presetName === 'github-actions') {
    const sub = subName(match.sub, 'repo:')
    if (match.repository !== undefined)
      uses.push({ claim: 'repository', what: 'repository', pins: ['repository_id'] })
    else if (sub?.full) uses.push({ claim: 'sub', what: 'repository', pins: ['repository_id'] })
    if (match.repository_owner !== undefined) {
      uses.push({ claim: 'repository_owner', what: 'owner', pins: ['repository_owner_id', 'repository_id'] })
    } else if (sub && !sub.full) {
      uses.push({ claim: 'sub', what: 'owner', pins: ['repository_owner_id', 'repository_id'] })
    }
  } else if (ctx.presetName === 'gitlab') {
    const sub = subName(match.sub, 'project_path:')
    if (match.project_path !== undefined)
      uses.push({ claim: 'project_path', what: 'project', pins: ['project_id'] })
    else if (sub?.full) uses.push({ claim: 'sub', what: 'project', pins: ['project_id'] })
    if (match.namespace_path !== undefined) {
      uses.push({ claim: 'namespace_path', what: 'namespace', pins: ['namespace_id', 'project_id'] })
    } else if (sub && !sub.full) {
      uses.push({ claim: 'sub', what: 'namespace', pins: ['namespace_id', 'project_id'] })
    }
  }
  const findings: RawFinding[] = []
  const pinnedBySub = ctx.presetName === 'github-actions' ? subName(match.sub, 'repo:')?.ids : undefined
  for (const use of uses) {
    if (use.pins.some((pin) => match[pin] !== undefined || pinnedBySub?.has(pin))) continue
    const pin = use.pins[0] ?? ''
    findings.push({
      rule: 'name-without-id',
      severity: 'warning',
      message: `policy "${ctx.policy.name}" matches the ${use.what} by name (${use.claim}) but not by ${pin}: a renamed or deleted ${use.what}'s name can be registered by someone else`,
      hint: `add ${pin}: "<id>" (quoted: the issuer sends ids as strings)`,
      path: matchPath(ctx, use.claim),
    })
  }
  return findings
}

/**
 * The EC2 presence proof checks that the caller's session is named after the instance id, and any
 * principal that may assume some role in the account can name its session that way. Only the role
 * tells the instance profile apart, so a policy relying on the proof should pin it.
 */
export const presenceRoleUnpinnedRule: PolicyRule = (ctx) => {
  const { provider, policy } = ctx
  if (provider.kind !== 'aws-ec2' || !provider.binding.requireCallerIdentity) return []
  if (policy.match.role !== undefined) return []
  return [
    {
      rule: 'presence-role-unpinned',
      severity: 'warning',
      message: `policy "${policy.name}" relies on provider "${provider.name}"'s presence proof but does not pin role: a session of any role in the account, named after the instance id, passes the proof`,
      hint: 'add role: <the instance profile role name>',
      path: ['policies', ctx.index, 'match'],
    },
  ]
}

/**
 * GitHub Actions `sub` forms. Since 2026-06-18 GitHub issues, for new and renamed repositories,
 * `repo:OWNER-OWNERID/REPO-REPOID:…` (immutable ids) instead of `repo:OWNER/REPO:…` (names). An
 * exact policy written in one form never matches a token in the other: these helpers let lint,
 * explain and `policy test` recognise a difference that is only one of form.
 */

/** The `OWNER-OWNERID/REPO-REPOID` segment of an immutable sub. */
const IMMUTABLE_SEGMENT = /^([^/:]+)-(\d+)\/([^/:]+)-(\d+)$/

/** A parsed `repo:<segment>:<context>` sub. */
interface RepoSub {
  readonly segment: string
  readonly context: string
}

function splitRepoSub(sub: string): RepoSub | undefined {
  if (!sub.startsWith('repo:')) return undefined
  const rest = sub.slice('repo:'.length)
  const colon = rest.indexOf(':')
  if (colon <= 0) return undefined
  return { segment: rest.slice(0, colon), context: rest.slice(colon + 1) }
}

/**
 * True when a literal `repo:` segment reads as the immutable form (both owner and repository end in
 * `-<digits>`). A name can end that way too, so this is a heuristic for lint, never for a decision.
 */
export function isImmutableSegment(segment: string): boolean {
  return IMMUTABLE_SEGMENT.test(segment)
}

/** True when the owner part of a `repo:` segment ends in `-<digits>` (the immutable owner form). */
export function hasImmutableOwner(owner: string): boolean {
  return /^[^/:]+-\d+$/.test(owner)
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)

/** A sub rewritten in the other form, and the form the token itself used. */
export interface AlternateSub {
  readonly sub: string
  readonly tokenForm: 'immutable' | 'name'
}

/**
 * The same subject in the other form, built from the token's own claims (`repository`,
 * `repository_id`, `repository_owner_id`); undefined when the claims do not allow it.
 */
export function alternateGithubSub(claims: Readonly<Record<string, unknown>>): AlternateSub | undefined {
  const sub = str(claims.sub)
  const parsed = sub === undefined ? undefined : splitRepoSub(sub)
  if (!parsed) return undefined
  const repository = str(claims.repository)
  const ownerId = str(claims.repository_owner_id)
  const repoId = str(claims.repository_id)
  if (repository && ownerId && repoId) {
    const [owner, name] = repository.split('/')
    if (!owner || !name) return undefined
    if (parsed.segment === repository)
      return { sub: `repo:${owner}-${ownerId}/${name}-${repoId}:${parsed.context}`, tokenForm: 'name' }
    if (parsed.segment === `${owner}-${ownerId}/${name}-${repoId}`)
      return { sub: `repo:${repository}:${parsed.context}`, tokenForm: 'immutable' }
    return undefined
  }
  // Without the id claims only the immutable form can be turned back into names.
  const m = IMMUTABLE_SEGMENT.exec(parsed.segment)
  return m ? { sub: `repo:${m[1]}/${m[3]}:${parsed.context}`, tokenForm: 'immutable' } : undefined
}

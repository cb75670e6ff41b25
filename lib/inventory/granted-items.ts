import type { VerifiedSubject } from '../assertion/types.js'
import type { ResolvedGrant } from '../policy/types.js'

/** What one exchange was granted, as the inventory names it: scopes, `name:level` permissions or the role. */
export function grantedItems(grant: ResolvedGrant): string[] {
  switch (grant.kind) {
    case 'token':
      return [...grant.scopes]
    case 'aws':
      return [grant.roleArn]
    case 'github':
      return Object.entries(grant.permissions).map(([name, level]) => `${name}:${level}`)
    default:
      return []
  }
}

/** The instance a cloud-instance subject proved it is (EC2 and GCP `instance_id`, Azure `vm_id`). */
export function instanceIdOf(subject: VerifiedSubject): string | undefined {
  const id = subject.claims.instance_id ?? subject.claims.vm_id
  return typeof id === 'string' ? id : undefined
}

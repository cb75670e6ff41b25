/**
 * Deny messages for the caller. They name only what the caller itself sent (audience, resource,
 * scope), never a policy name, a pattern or a claim value; the audit trace carries the detail.
 */

const MAX_VALUE_CHARS = 128
const MAX_VALUES = 3

/** Keeps a caller-supplied value within the RFC 6749 error_description charset, bounded in size. */
function safeText(value: string): string {
  const cut = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}...` : value
  return cut.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?')
}

function listValues(noun: string, values: readonly string[]): string {
  const unique = [...new Set(values)]
  const shown = unique.slice(0, MAX_VALUES).map(safeText).join(', ')
  const more = unique.length > MAX_VALUES ? ` and ${unique.length - MAX_VALUES} more` : ''
  return `${noun}${unique.length > 1 ? 's' : ''} ${shown}${more}`
}

/** "audience X", "audiences X, Y", "resource R", "audience X and resource R". */
export function describeTargets(audiences: readonly string[], resources: readonly string[]): string {
  const parts: string[] = []
  if (audiences.length > 0) parts.push(listValues('audience', audiences))
  if (resources.length > 0) parts.push(listValues('resource', resources))
  return parts.join(' and ')
}

/** invalid_target when a target was requested. */
export function noGrantForTarget(audiences: readonly string[], resources: readonly string[]): string {
  return `no policy grants ${describeTargets(audiences, resources)} to this subject`
}

const KIND_NAMES: Readonly<Record<string, string>> = { token: 'an access token', aws: 'AWS credentials' }
const kindName = (kind: string) => KIND_NAMES[kind] ?? `a ${kind} grant`

/**
 * invalid_target when the target is granted to this subject, but as another kind of credential
 * than requested_token_type asks for: saying so is what lets the caller fix the request.
 */
export function grantKindMismatch(
  audiences: readonly string[],
  resources: readonly string[],
  requested: ReadonlySet<string> | undefined,
  offered: ReadonlySet<string>,
): string {
  const asked = [...(requested ?? [])].map(kindName).join(' or ')
  const kinds = [...offered].map(kindName).join(' or ')
  return `${describeTargets(audiences, resources)} is granted to this subject as ${kinds}, not as the ${asked} that requested_token_type asks for`
}

/** invalid_target when no target was requested and no policy matches. */
export const NO_POLICY_MATCHES = 'no policy grants anything to this subject'

/** invalid_target when no target was requested and the choice is ambiguous. */
export const SEVERAL_POLICIES_MATCH =
  'several policies match this subject: specify the audience or resource you want a credential for'

/** invalid_scope: the requested scopes exceed what the selected grant allows. */
export function scopeNotGranted(
  scopes: readonly string[],
  audiences: readonly string[],
  resources: readonly string[],
): string {
  const target =
    audiences.length + resources.length > 0 ? ` for ${describeTargets(audiences, resources)}` : ''
  return `requested scope '${safeText(scopes.join(' '))}' is not granted to this subject${target}`
}

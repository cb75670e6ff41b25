/**
 * Claim lookup over untrusted token claims. Only own properties are read, so names such as
 * `__proto__`, `constructor` or `toString` can never reach Object.prototype.
 */

/** A claim name prepared once at compile time: the literal key, and its dotted path if any. */
export interface ClaimName {
  readonly name: string
  /** Segments of a dotted name (`google.compute_engine.instance_id`); undefined when no dot. */
  readonly path: readonly string[] | undefined
}

/** Prepares a configured claim name for lookup. */
export function parseClaimName(name: string): ClaimName {
  return { name, path: name.includes('.') ? name.split('.') : undefined }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads a claim: the literal key first; when absent and the name is dotted, walks nested objects
 * (never arrays). Returns undefined when the claim is missing.
 */
export function lookupClaim(claims: unknown, claim: ClaimName): unknown {
  if (!isRecord(claims)) return undefined
  if (Object.hasOwn(claims, claim.name)) return claims[claim.name]
  const path = claim.path
  if (path === undefined) return undefined
  let current: unknown = claims
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined
    current = current[segment]
  }
  return current
}

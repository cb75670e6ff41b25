/**
 * Claim lookup over untrusted token claims. Only own properties are read, so names such as
 * `__proto__`, `constructor` or `toString` can never reach Object.prototype.
 *
 * A dotted name is resolved level by level, and at each level the longest literal key that is
 * present wins: `kubernetes.io.namespace` finds `{"kubernetes.io": {"namespace": …}}` (Kubernetes
 * projected service-account tokens), `{"kubernetes.io.namespace": …}` and
 * `{"kubernetes": {"io": {"namespace": …}}}` alike. docs/policies.md states the rule.
 */

/** A claim name prepared once at compile time: the literal key, and its dotted segments if any. */
export interface ClaimName {
  readonly name: string
  /** Segments of a dotted name (`google.compute_engine.instance_id`); undefined when no dot. */
  readonly path: readonly string[] | undefined
  /**
   * For each segment index, the keys that may start there, longest first, each with the index
   * of the segment after it: `a.b.c` at 0 gives `a.b.c`→3, `a.b`→2, `a`→1.
   */
  readonly candidates: readonly (readonly { readonly key: string; readonly next: number }[])[]
}

/** Prepares a configured claim name for lookup. */
export function parseClaimName(name: string): ClaimName {
  if (!name.includes('.')) return { name, path: undefined, candidates: [] }
  const path = name.split('.')
  const candidates = path.map((_, start) =>
    path
      .slice(start)
      .map((_segment, i) => ({ key: path.slice(start, start + i + 1).join('.'), next: start + i + 1 }))
      .reverse(),
  )
  return { name, path, candidates }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads a claim: the literal key first; for a dotted name, walks nested objects (never arrays),
 * taking at each level the longest present key made of the next segments joined by dots.
 * Returns undefined when the claim is missing.
 */
export function lookupClaim(claims: unknown, claim: ClaimName): unknown {
  if (!isRecord(claims)) return undefined
  if (Object.hasOwn(claims, claim.name)) return claims[claim.name]
  const path = claim.path
  if (path === undefined) return undefined
  let current: unknown = claims
  let index = 0
  while (index < path.length) {
    if (!isRecord(current)) return undefined
    const level = current
    const found = claim.candidates[index]?.find((c) => Object.hasOwn(level, c.key))
    if (found === undefined) return undefined
    current = level[found.key]
    index = found.next
  }
  return current
}

/** Lint rules on claim names and matcher shapes: typos, type mismatches, misleading regexes. */
import { matchPath, type PolicyRule, quote, type RawFinding } from './lint-rules-context.js'
import { literalValues, topLevelBars } from './lint-rules-skeleton.js'

/** Longer names are not compared (bounds the quadratic distance). */
const MAX_COMPARED_LENGTH = 100

/** Optimal-string-alignment distance: edits, with a swap of two neighbours counting as one. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[] = new Array(rows * cols).fill(0)
  const at = (i: number, j: number) => d[i * cols + j] ?? 0
  for (let i = 0; i < rows; i++) d[i * cols] = i
  for (let j = 0; j < cols; j++) d[j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1)
      d[i * cols + j] = best
    }
  }
  return at(rows - 1, cols - 1)
}

/** The closest known name within a third of its length (at least 1 edit), if any. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  if (name.length > MAX_COMPARED_LENGTH) return undefined
  const limit = Math.max(1, Math.floor(name.length / 3))
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    if (Math.abs(candidate.length - name.length) > limit) continue
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance <= limit && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** A claim the preset's issuer never sends can never match: almost always a typo. */
export const unknownClaimRule: PolicyRule = (ctx) => {
  const preset = ctx.preset
  if (!preset) return []
  const findings: RawFinding[] = []
  for (const claim of Object.keys(ctx.policy.match)) {
    if (preset.knownClaims.includes(claim)) continue
    if (preset.knownClaimPrefixes?.some((p) => claim.startsWith(p))) continue
    const suggestion = nearestName(claim, preset.knownClaims)
    findings.push({
      rule: 'unknown-claim',
      severity: 'warning',
      message: `policy "${ctx.policy.name}": ${quote(claim)} is not a claim of ${ctx.presetName} tokens, so it never matches${suggestion ? `; did you mean ${quote(suggestion)}?` : ''}`,
      hint: suggestion
        ? `rename the condition to ${suggestion}`
        : `use one of the claims ${ctx.presetName} documents (tessera policy explain shows a real token's claims)`,
      path: matchPath(ctx, claim),
    })
  }
  return findings
}

const NUMERIC_STANDARD = new Set(['exp', 'nbf', 'iat'])

/** Matching is type-strict: a number or boolean never matches a claim the issuer sends as a string. */
export const claimTypeRule: PolicyRule = (ctx) => {
  const preset = ctx.preset
  if (!preset?.nonStringClaims) return []
  const findings: RawFinding[] = []
  for (const [claim, spec] of Object.entries(ctx.policy.match)) {
    if (!preset.knownClaims.includes(claim) || NUMERIC_STANDARD.has(claim)) continue
    if (preset.nonStringClaims.includes(claim)) continue
    const wrong = literalValues(spec)?.filter((v) => typeof v !== 'string') ?? []
    if (wrong.length === 0) continue
    findings.push({
      rule: 'claim-type',
      severity: 'warning',
      message: `policy "${ctx.policy.name}": ${ctx.presetName} sends ${claim} as a string, so the ${typeof wrong[0]} ${quote(wrong[0])} never matches (matching is type-strict)`,
      hint: `quote the value in YAML: ${claim}: "${String(wrong[0])}"`,
      path: matchPath(ctx, claim),
    })
  }
  return findings
}

const LEADING_ANY = /^\^?\.[*+]/
const TRAILING_ANY = /(?<!\\)\.[*+]\??\$?$/

/** Regexes that read as unanchored (leading/trailing `.*`) or whose alternation is ungrouped. */
export const regexShapeRule: PolicyRule = (ctx) => {
  const findings: RawFinding[] = []
  for (const [claim, spec] of Object.entries(ctx.policy.match)) {
    if (typeof spec !== 'object' || Array.isArray(spec) || !('regex' in spec)) continue
    const regex = spec.regex
    const loose = LEADING_ANY.test(regex) ? 'starts' : TRAILING_ANY.test(regex) ? 'ends' : undefined
    if (loose) {
      findings.push({
        rule: 'regex-shape',
        severity: 'warning',
        message: `policy "${ctx.policy.name}": ${claim} regex ${quote(regex)} ${loose} with .* / .+, which accepts anything ${loose === 'starts' ? 'before' : 'after'} the rest`,
        hint: 'regexes always match the whole value; spell out the varying part narrowly, e.g. [^/:]+ for one segment',
        path: matchPath(ctx, claim, 'regex'),
      })
    }
    if (topLevelBars(regex).length > 0) {
      findings.push({
        rule: 'regex-shape',
        severity: 'warning',
        message: `policy "${ctx.policy.name}": ${claim} regex ${quote(regex)} has an ungrouped alternation`,
        hint: 'Tessera full-matches (?:a|b), but the same text elsewhere is read as ^a|b$; write (?:a|b) or use a list matcher',
        path: matchPath(ctx, claim, 'regex'),
      })
    }
  }
  return findings
}

/**
 * Pattern skeletons for lint: a glob or regex rewritten as its literal characters plus markers
 * for the parts that vary, so rules can ask "is the repository segment a wildcard?" without
 * enumerating strings. A heuristic, never used to decide a request (matchers.ts does that).
 */
import type { MatcherSpec } from '../config/schema.js'

/** Any run of characters within one `/`- or `:`-separated segment. */
export const SEG = '\uE000'
/** Any run of characters, separators included. */
export const ANY = '\uE001'
/** Something restricted that the skeleton does not spell out (a group, a bounded class). */
export const OPAQUE = '\uE002'

const WILD = new Set([SEG, ANY])

/** True when `text` is one or more wildcard markers and nothing else. */
export function wildOnly(text: string): boolean {
  if (text.length === 0) return false
  for (const c of text) if (!WILD.has(c)) return false
  return true
}

/** True when `text` holds a wildcard marker. */
export function hasWild(text: string): boolean {
  return text.includes(SEG) || text.includes(ANY)
}

/** True when `text` is plain literal text (no marker at all). */
export function isLiteral(text: string): boolean {
  return !hasWild(text) && !text.includes(OPAQUE)
}

/** Skeleton of a glob: `**` → ANY, `*` → SEG, the rest literal. */
export function globSkeleton(glob: string): string {
  return glob.replace(/\*\*+/g, ANY).replace(/\*/g, SEG)
}

/** Indexes of `|` outside groups and classes: top-level alternation. */
export function topLevelBars(regex: string): number[] {
  const bars: number[] = []
  let depth = 0
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i]
    if (c === '\\') i++
    else if (c === '[') i = classEnd(regex, i)
    else if (c === '(') depth++
    else if (c === ')') depth = Math.max(0, depth - 1)
    else if (c === '|' && depth === 0) bars.push(i)
  }
  return bars
}

/** Index of the `]` closing the class opened at `start` (or the last index when unclosed). */
function classEnd(regex: string, start: number): number {
  let i = start + 1
  if (regex[i] === '^') i++
  if (regex[i] === ']') i++
  for (; i < regex.length; i++) {
    if (regex[i] === '\\') i++
    else if (regex[i] === ']') return i
  }
  return regex.length - 1
}

function groupEnd(regex: string, start: number): number {
  let depth = 0
  for (let i = start; i < regex.length; i++) {
    const c = regex[i]
    if (c === '\\') i++
    else if (c === '[') i = classEnd(regex, i)
    else if (c === '(') depth++
    else if (c === ')' && --depth === 0) return i
  }
  return regex.length - 1
}

type Atom =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'class' | 'opaque'; readonly crosses: boolean }

/** Reads a quantifier at `i`: its length and whether it is unbounded (`*`, `+`, `{n,}`). */
function quantifier(regex: string, i: number): { length: number; unbounded: boolean } | undefined {
  const c = regex[i]
  let length = 0
  let unbounded = false
  if (c === '*' || c === '+') {
    length = 1
    unbounded = true
  } else if (c === '?') {
    length = 1
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(regex.slice(i))
    if (!m) return undefined
    length = m[0].length
    unbounded = m[2] !== undefined && m[3] === ''
  } else {
    return undefined
  }
  if (regex[i + length] === '?' || regex[i + length] === '+') length++ // lazy / possessive
  return { length, unbounded }
}

const CROSSING_ESCAPES = new Set(['S', 'W', 'D', 'C', 'p', 'P'])

function atomAt(regex: string, i: number): { atom: Atom; next: number } {
  const c = regex[i] ?? ''
  if (c === '\\') {
    const e = regex[i + 1] ?? ''
    if (/[A-Za-z]/.test(e)) return { atom: { kind: 'class', crosses: CROSSING_ESCAPES.has(e) }, next: i + 2 }
    return { atom: { kind: 'literal', text: e }, next: i + 2 }
  }
  if (c === '.') return { atom: { kind: 'class', crosses: true }, next: i + 1 }
  if (c === '[') {
    const end = classEnd(regex, i)
    const body = regex.slice(i + 1, end)
    const negated = body.startsWith('^')
    const separators = body.includes('/') || body.includes(':')
    const both = body.includes('/') && body.includes(':')
    return { atom: { kind: 'class', crosses: negated ? !both : separators }, next: end + 1 }
  }
  if (c === '(') return { atom: { kind: 'opaque', crosses: false }, next: groupEnd(regex, i) + 1 }
  return { atom: { kind: 'literal', text: c }, next: i + 1 }
}

/** Skeleton of one alternation-free regex branch. */
function branchSkeleton(branch: string): string {
  let out = ''
  let i = 0
  const body = branch.replace(/^\^/, '').replace(/(?<!\\)\$$/, '')
  for (let guard = 0; i < body.length && guard <= body.length; guard++) {
    const { atom, next } = atomAt(body, i)
    const q = quantifier(body, next)
    i = next + (q?.length ?? 0)
    if (atom.kind === 'literal' && !q) out += atom.text
    else if (atom.kind === 'class' && q?.unbounded) out += atom.crosses ? ANY : SEG
    else out += OPAQUE
  }
  return out
}

/** Skeletons of a regex, one per top-level alternative (`a|b` is two subjects, not one). */
export function regexSkeletons(regex: string): string[] {
  const bars = topLevelBars(regex)
  const out: string[] = []
  let from = 0
  for (const bar of [...bars, regex.length]) {
    out.push(branchSkeleton(regex.slice(from, bar)))
    from = bar + 1
  }
  return out
}

/** Skeletons of any matcher: literal values as they are, patterns rewritten. */
export function skeletons(spec: MatcherSpec): string[] {
  if (Array.isArray(spec)) return spec.map(String)
  if (typeof spec !== 'object') return [String(spec)]
  return 'glob' in spec ? [globSkeleton(spec.glob)] : regexSkeletons(spec.regex)
}

/** The literal values of an exact or any-of matcher, undefined for a pattern. */
export function literalValues(spec: MatcherSpec | undefined): (string | number | boolean)[] | undefined {
  if (spec === undefined) return undefined
  if (Array.isArray(spec)) return spec
  return typeof spec === 'object' ? undefined : [spec]
}

import type { RE2JS } from 're2js'
import type { MatcherSpec } from '../config/schema.js'
import { compileGlob, globNeedsRegexEngine, globProblem, type StringTest } from './glob.js'
import { regexEngine } from './regex-engine.js'
import type { MatcherKind, MismatchReason } from './types.js'

/** Tests one claim value: undefined when it matches, otherwise why not. Never throws. */
export type ValueTest = (value: unknown) => MismatchReason | undefined

export interface CompiledMatcher {
  readonly kind: MatcherKind
  readonly test: ValueTest
}

/** A matcher that could not be compiled; `path` is relative to the matcher (e.g. ['regex']). */
export interface MatcherProblem {
  readonly path: readonly string[]
  readonly message: string
}

type Scalar = string | number | boolean

function isScalar(value: unknown): value is Scalar {
  const t = typeof value
  return t === 'string' || t === 'number' || t === 'boolean'
}

/**
 * Exact / any-of: a scalar matches when one configured value has the same type and value
 * (Set.has is type-strict: 42 and "42" differ). Arrays match when any scalar element does.
 */
function scalarTest(values: readonly Scalar[]): ValueTest {
  const set = new Set<Scalar>(values)
  const types = new Set<string>(values.map((v) => typeof v))
  const one = (value: unknown): MismatchReason | undefined => {
    if (!isScalar(value)) return 'wrong-type'
    if (set.has(value)) return undefined
    return types.has(typeof value) ? 'no-match' : 'wrong-type'
  }
  return (value) => {
    if (value === undefined) return 'missing'
    if (!Array.isArray(value)) return one(value)
    let reason: MismatchReason = value.length === 0 ? 'no-match' : 'wrong-type'
    for (const element of value) {
      const r = one(element)
      if (r === undefined) return undefined
      if (r === 'no-match') reason = r
    }
    return reason
  }
}

/** Glob / regex: only strings (or string elements of an array) are considered. */
function stringTest(test: StringTest): ValueTest {
  const safe = (value: string): boolean => {
    try {
      return test(value)
    } catch {
      return false // fail closed: an engine error is a non-match, never an exception
    }
  }
  return (value) => {
    if (value === undefined) return 'missing'
    if (typeof value === 'string') return safe(value) ? undefined : 'no-match'
    if (!Array.isArray(value)) return 'wrong-type'
    let reason: MismatchReason = value.length === 0 ? 'no-match' : 'wrong-type'
    for (const element of value) {
      if (typeof element !== 'string') continue
      if (safe(element)) return undefined
      reason = 'no-match'
    }
    return reason
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Compiles a regex for full matching only (RE2: linear time, no backreferences or lookaround). */
export function compileRegex(pattern: string): StringTest | MatcherProblem {
  const engine = regexEngine() // outside the try: a missing engine is a bug, not an invalid regex
  let re: RE2JS
  try {
    re = engine.compile(pattern)
  } catch (error) {
    return { path: ['regex'], message: `invalid regex: ${describeError(error)}` }
  }
  // matches() anchors both ends of the whole pattern, so `a|b` means ^(?:a|b)$, never half-anchored.
  return (value) => re.matches(value)
}

/** Whether compiling the matcher needs the regex engine (see lib/policy/regex-engine.ts). */
export function matcherNeedsRegexEngine(spec: MatcherSpec): boolean {
  if (isScalar(spec) || Array.isArray(spec)) return false
  return 'glob' in spec ? globNeedsRegexEngine(spec.glob) : true
}

/** Compiles one configured matcher, or explains why it is invalid. */
export function compileMatcher(spec: MatcherSpec): CompiledMatcher | MatcherProblem {
  if (isScalar(spec)) return { kind: 'exact', test: scalarTest([spec]) }
  if (Array.isArray(spec)) return { kind: 'any-of', test: scalarTest(spec) }
  if ('glob' in spec) {
    const problem = globProblem(spec.glob)
    if (problem) return { path: ['glob'], message: problem }
    return { kind: 'glob', test: stringTest(compileGlob(spec.glob)) }
  }
  const regex = compileRegex(spec.regex)
  if (typeof regex !== 'function') return regex
  return { kind: 'regex', test: stringTest(regex) }
}

/** Narrows a compileMatcher result. */
export function isMatcherProblem(result: CompiledMatcher | MatcherProblem): result is MatcherProblem {
  return 'message' in result
}

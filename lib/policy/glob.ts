import { regexEngine } from './regex-engine.js'

/** A compiled string test; full-string, linear time. */
export type StringTest = (value: string) => boolean

// A single * never crosses /, : or a line break (a newline inside a claim is never one segment).
const SEGMENT = '[^/:\n]*'
/** `**`: anything, newlines included (the pattern is compiled with DOTALL). */
const ANYTHING = '.*'

/** Why a glob is invalid, or undefined when it is valid. */
export function globProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'glob must not be empty'
  if (pattern.includes('***')) {
    return 'glob must not contain three or more consecutive "*" (use * within a segment, ** across segments)'
  }
  return undefined
}

function hasSeparatorFrom(value: string, start: number): boolean {
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x2f || c === 0x3a || c === 0x0a) return true
  }
  return false
}

/** Alternating literal / star tokens; `**` is tried before `*` so it is never split. */
const globTokens = (pattern: string): string[] => pattern.split(/(\*\*|\*)/)

/** Whether the glob needs the regex engine: a literal, `prefix*` or `prefix**` does not. */
export function globNeedsRegexEngine(pattern: string): boolean {
  const tokens = globTokens(pattern)
  return !(tokens.length === 1 || (tokens.length === 3 && tokens[2] === ''))
}

/**
 * Compiles a valid glob (see globProblem) to a full-string test. Only `*` and `**` are special;
 * every other character, regex metacharacters included, is literal.
 */
export function compileGlob(pattern: string): StringTest {
  const tokens = globTokens(pattern)
  if (tokens.length === 1) return (value) => value === pattern
  const prefix = tokens[0] ?? ''
  // The common shapes `prefix*` and `prefix**` need no regex engine (globNeedsRegexEngine).
  if (tokens.length === 3 && tokens[2] === '') {
    if (tokens[1] === '**') return (value) => value.startsWith(prefix)
    return (value) => value.startsWith(prefix) && !hasSeparatorFrom(value, prefix.length)
  }
  const RE2JS = regexEngine()
  let source = ''
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? ''
    if (i % 2 === 1) source += token === '**' ? ANYTHING : SEGMENT
    else if (token.length > 0) source += RE2JS.quote(token)
  }
  const re = RE2JS.compile(source, RE2JS.DOTALL)
  return (value) => re.matches(value)
}

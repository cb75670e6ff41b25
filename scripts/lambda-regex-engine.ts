/**
 * Stand-in for lib/policy/regex-engine.ts inside Lambda bundles (aliased by scripts/bundle.ts):
 * re2js becomes a separate chunk, loaded by the broker before compiling a config that needs it
 * (lib/policy/matchers.ts matcherNeedsRegexEngine), so configs without regexes or complex globs
 * start without it.
 */
import type { RegexEngine } from '../lib/policy/regex-engine.js'

let engine: RegexEngine | undefined

/** The engine; throws (a bug, never a non-match) if it was not loaded first. */
export function regexEngine(): RegexEngine {
  if (!engine) throw new Error('regex engine not loaded: await loadRegexEngine() before compiling policies')
  return engine
}

/** Loads re2js once. */
export async function loadRegexEngine(): Promise<void> {
  engine ??= (await import('re2js')).RE2JS
}

import { RE2JS } from 're2js'

/**
 * The linear-time regex engine for `{regex}` matchers and globs that are not a plain prefix (re2js).
 * Static here, for the CLI, the local server and tests. Lambda bundles swap this module for
 * scripts/lambda-regex-engine.ts, which loads re2js (~150 KB) only when the config needs it, so a
 * config whose globs are all literals or `prefix*` / `prefix**` starts without it.
 */
export type RegexEngine = typeof RE2JS

/** The engine; in Lambda bundles, available once loadRegexEngine() has resolved. */
export function regexEngine(): RegexEngine {
  return RE2JS
}

/** Makes regexEngine() usable; nothing to do when the engine is a static import. */
export async function loadRegexEngine(): Promise<void> {}

import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * error_description is limited to RFC 6749's character set (no `"` and no `\`): the serializer
 * replaces anything else with `?`, so `no provider named "github"` reached callers as
 * `no provider named ?github?`. Every error text in lib/ quotes with `'` or not at all.
 */
const ROOT = join(import.meta.dirname, '..', 'lib')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/** The text from `start` (just after an opening parenthesis) to its matching close. */
function argumentsFrom(text: string, start: number): string {
  let depth = 1
  for (let i = start; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')' && --depth === 0) return text.slice(start, i)
  }
  return text.slice(start)
}

/** String and template literals, with `${…}` interpolations removed (their values are checked at run time). */
function literals(code: string): string[] {
  const found = code.match(/`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*'/g) ?? []
  return found.map((l) => l.slice(1, -1).replace(/\$\{[^}]*\}/g, ''))
}

/** Names of the error classes whose first arguments are texts a user reads. */
const ERROR_CLASS =
  /Error$|^Invalid|^Unsupported|^Insufficient|^TooMany|^Temporarily|Unavailable$|^ExchangeFailed$/

/** Texts passed to error constructors and used as config problem or zod issue messages. */
function errorTexts(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/new\s+([A-Z]\w*)\(/g)) {
    const name = m[1] ?? ''
    if (!ERROR_CLASS.test(name)) continue
    out.push(...literals(argumentsFrom(text, (m.index ?? 0) + m[0].length)))
  }
  for (const m of text.matchAll(/(?:problems|errors|issues)\.push\(|message:\s*/g)) {
    const rest = text.slice((m.index ?? 0) + m[0].length)
    const first = /^(?:\[\[[^\]]*\],\s*)?(`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*')/.exec(rest)
    if (first?.[1]) out.push(...literals(first[1]))
  }
  return out
}

// Lint findings show claim values as JSON (`"42"` is not `42` when matching is type-strict) and
// their hints show YAML to write; they are printed by the CLI, never sent as error_description.
const LINT_FINDINGS = /^policy\/lint-rules-/

describe('error texts in lib/', () => {
  const files = sources(ROOT).filter((f) => !LINT_FINDINGS.test(relative(ROOT, f)))

  it('finds the error texts it checks (the scan itself works)', () => {
    const all = files.flatMap(errorTexts)
    expect(all.length).toBeGreaterThan(100)
    expect(all).toContain('lift must be true or false')
  })

  it('contain no double quote and no backslash', () => {
    const bad = files.flatMap((f) =>
      errorTexts(f)
        .filter((t) => /["\\]/.test(t.replace(/\\[nt`'$]/g, '')))
        .map((t) => `${relative(ROOT, f)}: ${t}`),
    )
    expect(bad).toEqual([])
  })
})

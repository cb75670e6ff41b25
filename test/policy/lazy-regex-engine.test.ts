import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { MatcherSpec } from '../../lib/config/schema.js'
import { compileGlob, globNeedsRegexEngine } from '../../lib/policy/glob.js'
import { compileMatcher, isMatcherProblem, matcherNeedsRegexEngine } from '../../lib/policy/matchers.js'
import { loadRegexEngine } from '../../lib/policy/regex-engine.js'

// Lambda bundles swap lib/policy/regex-engine.ts for scripts/lambda-regex-engine.ts (scripts/bundle.ts);
// the same swap here runs the real matchers exactly as the bundle does. Tests run in order: the
// engine is not loaded until the last describe block.
vi.mock('../../lib/policy/regex-engine.js', () => import('../../scripts/lambda-regex-engine.js'))

const literal = fc.string({ maxLength: 20 }).map((s) => s.replaceAll('*', ''))

describe('Lambda regex engine, before it is loaded', () => {
  it('literal, prefix* and prefix** globs need no engine and compile without it (property)', () => {
    fc.assert(
      fc.property(literal, fc.constantFrom('', '*', '**'), (prefix, star) => {
        const pattern = prefix + star
        fc.pre(pattern.length > 0)
        expect(globNeedsRegexEngine(pattern)).toBe(false)
        expect(typeof compileGlob(pattern)).toBe('function')
      }),
      { numRuns: 300 },
    )
  })

  it('whenever globNeedsRegexEngine says no, compileGlob never touches the engine (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z/:*]{1,12}$/), (pattern) => {
        if (globNeedsRegexEngine(pattern)) expect(() => compileGlob(pattern)).toThrow(/not loaded/)
        else expect(() => compileGlob(pattern)).not.toThrow()
      }),
      { numRuns: 500 },
    )
  })

  it('a prefix glob compiled without the engine still matches within one segment only', () => {
    const test = compileGlob('refs/heads/release/*')
    expect(test('refs/heads/release/v1')).toBe(true)
    expect(test('refs/heads/release/v1/evil')).toBe(false)
    expect(test('refs/heads/main')).toBe(false)
    expect(test('refs/heads/release:x')).toBe(false)
  })

  it('scalar and list matchers need no engine', () => {
    const specs: MatcherSpec[] = ['acme/app', 42, true, ['a', 'b']]
    for (const spec of specs) {
      expect(matcherNeedsRegexEngine(spec)).toBe(false)
      expect(isMatcherProblem(compileMatcher(spec))).toBe(false)
    }
  })

  it('a regex matcher needs the engine: compiling it throws a bug, not an "invalid regex" problem', () => {
    expect(matcherNeedsRegexEngine({ regex: 'a+' })).toBe(true)
    expect(() => compileMatcher({ regex: 'a+' })).toThrow(/regex engine not loaded/)
  })

  it('a glob with an inner star needs the engine and throws without it', () => {
    expect(matcherNeedsRegexEngine({ glob: 'repo:acme/*:ref:*' })).toBe(true)
    expect(() => compileMatcher({ glob: 'repo:acme/*:ref:*' })).toThrow(/regex engine not loaded/)
  })

  it('a suffix or middle star needs the engine', () => {
    expect(globNeedsRegexEngine('*.example.com')).toBe(true)
    expect(globNeedsRegexEngine('a*b')).toBe(true)
    expect(globNeedsRegexEngine('a**b*')).toBe(true)
  })
})

describe('Lambda regex engine, once loaded', () => {
  it('compiles regexes and inner-star globs with full-match semantics', async () => {
    await loadRegexEngine()
    await loadRegexEngine() // idempotent
    const regex = compileMatcher({ regex: 'acme/ci/.+@refs/heads/main' })
    if (isMatcherProblem(regex)) throw new Error(regex.message)
    expect(regex.test('acme/ci/deploy.yml@refs/heads/main')).toBeUndefined()
    expect(regex.test('xacme/ci/deploy.yml@refs/heads/main')).toBe('no-match')
    const glob = compileGlob('repo:acme/*:ref:*')
    expect(glob('repo:acme/app:ref:main')).toBe(true)
    expect(glob('repo:acme/a/b:ref:main')).toBe(false)
  })

  it('an invalid regex is a matcher problem again, not an exception', () => {
    const result = compileMatcher({ regex: '(unclosed' })
    expect(isMatcherProblem(result) && result.message).toMatch(/^invalid regex/)
  })
})

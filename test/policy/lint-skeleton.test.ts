import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { editDistance, nearestName } from '../../lib/policy/lint-rules-claims.js'
import { mayOverlap } from '../../lib/policy/lint-rules-grant.js'
import {
  ANY,
  globSkeleton,
  OPAQUE,
  regexSkeletons,
  SEG,
  topLevelBars,
  wildOnly,
} from '../../lib/policy/lint-rules-skeleton.js'
import { compileMatcher, isMatcherProblem } from '../../lib/policy/matchers.js'

describe('pattern skeletons', () => {
  it('rewrites glob wildcards', () => {
    expect(globSkeleton('repo:acme/*:**')).toBe(`repo:acme/${SEG}:${ANY}`)
    expect(globSkeleton('a.b')).toBe('a.b')
  })

  it.each([
    ['.*', [ANY]],
    ['^.+$', [ANY]],
    ['[^/:]+', [SEG]],
    ['[^:]*', [ANY]],
    ['\\w+', [SEG]],
    ['\\S+', [ANY]],
    ['[a-z0-9-]+', [SEG]],
    ['[a-z/]+', [ANY]],
    ['repo:acme/app:ref:refs/heads/main', ['repo:acme/app:ref:refs/heads/main']],
    ['a\\.b\\:c', ['a.b:c']],
    ['(?:main|dev)', [OPAQUE]],
    ['[0-9]{12}', [OPAQUE]],
    ['x.{2,}', [`x${ANY}`]],
    ['a|.*', ['a', ANY]],
    ['v[0-9]', [`v${OPAQUE}`]],
    ['a*', [OPAQUE]],
  ])('regex %s → %j', (regex, expected) => {
    expect(regexSkeletons(regex)).toEqual(expected)
  })

  it('finds top-level bars only outside groups and classes', () => {
    expect(topLevelBars('a|b')).toEqual([1])
    expect(topLevelBars('(a|b)|c')).toEqual([5])
    expect(topLevelBars('[|]\\|x')).toEqual([])
  })

  it('wildOnly needs at least one wildcard and nothing else', () => {
    expect(wildOnly('')).toBe(false)
    expect(wildOnly(SEG + ANY)).toBe(true)
    expect(wildOnly(`${SEG}a`)).toBe(false)
    expect(wildOnly(OPAQUE)).toBe(false)
  })

  it('never throws and stays bounded on arbitrary regex text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const out = regexSkeletons(text)
        expect(out.length).toBe(topLevelBars(text).length + 1)
        for (const s of out) expect(s.length).toBeLessThanOrEqual(text.length)
      }),
      { numRuns: 300 },
    )
  })
})

describe('mayOverlap is sound', () => {
  const segment = fc.stringMatching(/^[a-c]{1,3}$/)
  const value = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'))
  const glob = fc
    .array(fc.oneof(segment, fc.constant('*'), fc.constant('**')), { minLength: 1, maxLength: 3 })
    .map((parts) => parts.join('/'))

  it('never says "disjoint" for two globs that both accept one value', () => {
    fc.assert(
      fc.property(glob, glob, value, (a, b, v) => {
        const ca = compileMatcher({ glob: a })
        const cb = compileMatcher({ glob: b })
        if (isMatcherProblem(ca) || isMatcherProblem(cb)) return
        if (ca.test(v) === undefined && cb.test(v) === undefined) {
          expect(mayOverlap({ glob: a }, { glob: b })).toBe(true)
          expect(mayOverlap({ glob: a }, v)).toBe(true)
        }
      }),
      { numRuns: 500 },
    )
  })
})

describe('edit distance and suggestions', () => {
  it('counts edits, with an adjacent swap as one', () => {
    expect(editDistance('repositry', 'repository')).toBe(1)
    expect(editDistance('reopsitory', 'repository')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('same', 'same')).toBe(0)
  })

  it('is symmetric and zero only for equal strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        expect(editDistance(a, b)).toBe(editDistance(b, a))
        expect(editDistance(a, b) === 0).toBe(a === b)
        expect(editDistance(a, b)).toBeLessThanOrEqual(Math.max(a.length, b.length))
      }),
      { numRuns: 300 },
    )
  })

  it('suggests only close names', () => {
    const known = ['repository', 'repository_id', 'ref', 'environment']
    expect(nearestName('repositry', known)).toBe('repository')
    expect(nearestName('enviroment', known)).toBe('environment')
    expect(nearestName('Repository_ID', known)).toBe('repository_id')
    expect(nearestName('team', known)).toBeUndefined()
    expect(nearestName('x'.repeat(500), known)).toBeUndefined()
  })
})

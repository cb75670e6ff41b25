import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { MatcherSpec } from '../../lib/config/schema.js'
import { type CompiledMatcher, compileMatcher, isMatcherProblem } from '../../lib/policy/matchers.js'

function compile(spec: MatcherSpec): CompiledMatcher {
  const result = compileMatcher(spec)
  if (isMatcherProblem(result)) throw new Error(`unexpected problem: ${result.message}`)
  return result
}

const OK = undefined
type Row = [string, MatcherSpec, unknown, 'missing' | 'wrong-type' | 'no-match' | undefined]

// matcher × claim shape: the reason (undefined = match).
const table: Row[] = [
  ['exact string / same string', 'prod', 'prod', OK],
  ['exact string / other string', 'prod', 'Prod', 'no-match'],
  ['exact string / number', '42', 42, 'wrong-type'],
  ['exact string / boolean', 'true', true, 'wrong-type'],
  ['exact string / null', 'prod', null, 'wrong-type'],
  ['exact string / missing', 'prod', undefined, 'missing'],
  ['exact string / object', 'prod', { prod: 'prod' }, 'wrong-type'],
  ['exact string / array with it', 'prod', ['dev', 'prod'], OK],
  ['exact string / array without it', 'prod', ['dev', 'test'], 'no-match'],
  ['exact string / empty array', 'prod', [], 'no-match'],
  ['exact string / nested array', 'prod', [['prod']], 'wrong-type'],
  ['exact string / array of objects', 'prod', [{ env: 'prod' }], 'wrong-type'],
  ['exact string / array of null', 'prod', [null], 'wrong-type'],
  ['exact string / padded string', 'prod', 'prod ', 'no-match'],
  ['exact number / same number', 42, 42, OK],
  ['exact number / numeric string', 42, '42', 'wrong-type'],
  ['exact number / other number', 42, 43, 'no-match'],
  ['exact number / array with it', 42, [1, 42], OK],
  ['exact number / array of strings', 42, ['42'], 'wrong-type'],
  ['exact number / boolean', 1, true, 'wrong-type'],
  ['exact boolean / same', true, true, OK],
  ['exact boolean / string', true, 'true', 'wrong-type'],
  ['exact boolean / number', true, 1, 'wrong-type'],
  ['exact boolean / other', true, false, 'no-match'],
  ['exact boolean / array with it', false, [false], OK],
  ['exact owner id / number claim', '123456', 123456, 'wrong-type'],
  ['list / member', ['prod', 'staging'], 'staging', OK],
  ['list / non-member', ['prod', 'staging'], 'dev', 'no-match'],
  ['list / array overlapping', ['prod', 'staging'], ['dev', 'staging'], OK],
  ['list / array disjoint', ['prod', 'staging'], ['dev', 'test'], 'no-match'],
  ['list / number', ['prod', 'staging'], 1, 'wrong-type'],
  ['list / missing', ['prod'], undefined, 'missing'],
  ['list / null', ['prod'], null, 'wrong-type'],
  ['list / object', ['prod'], {}, 'wrong-type'],
  ['list / nested array', ['prod'], [['prod']], 'wrong-type'],
  ['list mixed / number member', ['a', 1, false], 1, OK],
  ['list mixed / boolean member', ['a', 1, false], false, OK],
  ['list mixed / numeric string', ['a', 1, false], '1', 'no-match'],
  ['list mixed / other boolean', ['a', 1, false], true, 'no-match'],
  ['glob / match', { glob: 'refs/heads/*' }, 'refs/heads/main', OK],
  ['glob / no match', { glob: 'refs/heads/*' }, 'refs/tags/v1', 'no-match'],
  ['glob / array with match', { glob: 'refs/heads/*' }, ['x', 'refs/heads/main'], OK],
  ['glob / mixed array with match', { glob: 'refs/heads/*' }, [1, null, 'refs/heads/main'], OK],
  ['glob / array without match', { glob: 'refs/heads/*' }, ['x', 'refs/heads/a/b'], 'no-match'],
  ['glob / number', { glob: '*' }, 42, 'wrong-type'],
  ['glob / boolean', { glob: '*' }, true, 'wrong-type'],
  ['glob / array of numbers', { glob: '*' }, [42], 'wrong-type'],
  ['glob / empty array', { glob: '**' }, [], 'no-match'],
  ['glob / null', { glob: '**' }, null, 'wrong-type'],
  ['glob / object', { glob: '**' }, { a: 'b' }, 'wrong-type'],
  ['glob / nested array', { glob: '**' }, [['x']], 'wrong-type'],
  ['glob / missing', { glob: '**' }, undefined, 'missing'],
  ['regex / match', { regex: 'acme/.+' }, 'acme/app', OK],
  ['regex / no match', { regex: 'acme/.+' }, 'other/app', 'no-match'],
  ['regex / array with match', { regex: 'acme/.+' }, ['x', 'acme/app'], OK],
  ['regex / array without match', { regex: 'acme/.+' }, ['x', 'y'], 'no-match'],
  ['regex / number', { regex: '\\d+' }, 42, 'wrong-type'],
  ['regex / array of numbers', { regex: '\\d+' }, [42], 'wrong-type'],
  ['regex / boolean', { regex: 'true' }, true, 'wrong-type'],
  ['regex / null', { regex: '.*' }, null, 'wrong-type'],
  ['regex / object', { regex: '.*' }, {}, 'wrong-type'],
  ['regex / empty array', { regex: '.*' }, [], 'no-match'],
  ['regex / nested array', { regex: '.*' }, [['x']], 'wrong-type'],
  ['regex / missing', { regex: '.*' }, undefined, 'missing'],
]

describe('matcher semantics', () => {
  it.each(table)('%s', (_label, spec, value, reason) => {
    expect(compile(spec).test(value)).toBe(reason)
  })

  it('reports the matcher kind', () => {
    expect(compile('x').kind).toBe('exact')
    expect(compile(['x']).kind).toBe('any-of')
    expect(compile({ glob: 'x' }).kind).toBe('glob')
    expect(compile({ regex: 'x' }).kind).toBe('regex')
  })
})

describe('regex: always a full match, never escapes its anchoring', () => {
  const workflow = 'acme/ci/.+@refs/heads/main'
  it.each([
    [workflow, 'acme/ci/deploy.yml@refs/heads/main', true],
    [workflow, 'evil\nacme/ci/x@refs/heads/main', false],
    [workflow, 'acme/ci/x@refs/heads/main\nevil', false],
    [workflow, 'acme/ci/x@refs/heads/main\n', false],
    [workflow, 'x|acme/ci/x@refs/heads/main', false],
    [workflow, 'acme/ci/x@refs/heads/main|x', false],
    [workflow, 'acme/ci/x@refs/heads/mainx', false],
    [workflow, 'xacme/ci/x@refs/heads/main', false],
    [workflow, 'acme/ci/\n@refs/heads/main', false],
    ['a|b', 'a', true],
    ['a|b', 'b', true],
    ['a|b', 'ab', false],
    ['a|b', 'a|b', false],
    ['a|b', 'xa', false],
    ['a|b', 'bx', false],
    ['main|release/.*', 'evil-main', false],
    ['main|release/.*', 'release/x', true],
    ['main|release/.*', 'xrelease/x', false],
    ['^main$', 'main', true],
    ['^main$', 'main\n', false],
    ['main$', 'evil\nmain', false],
    ['refs/heads/[^/]+', 'refs/heads/a/b', false],
    ['.*', 'a\nb', false],
    ['(?s).*', 'a\nb', true],
    ['acme/app', 'acme/app', true],
    ['acme/app', 'ACME/app', false],
  ])('%j vs %j -> %s', (pattern, value, expected) => {
    expect(compile({ regex: pattern }).test(value) === undefined).toBe(expected)
  })

  it('runs in linear time on a pattern that backtracks exponentially elsewhere', () => {
    const evil = compile({ regex: '(a+)+$' })
    expect(evil.test(`${'a'.repeat(50_000)}!`)).toBe('no-match')
  })
})

describe('regex: invalid patterns are compile problems, never crashes', () => {
  it.each(['(', ')', '(?=x)', '(?!x)', '(?<=a)b', '\\8', '(a)\\1', '[z-a]', 'a**', 'a{1001}', '*'])(
    '%j is rejected with a reason',
    (pattern) => {
      const result = compileMatcher({ regex: pattern })
      expect(isMatcherProblem(result)).toBe(true)
      if (!isMatcherProblem(result)) return
      expect(result.path).toEqual(['regex'])
      expect(result.message).toMatch(/^invalid regex: .+/)
    },
  )

  it.each(['', '***', 'a****'])('glob %j is rejected at path glob', (pattern) => {
    const result = compileMatcher({ glob: pattern })
    expect(isMatcherProblem(result) && result.path).toEqual(['glob'])
  })
})

// A tiny regex grammar on which RE2 full-match and JS ^(?:R)$ agree (no \r, \u2028 in values).
const regexArb: fc.Arbitrary<string> = fc.letrec<{ re: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b', '/', '.', '[^/]', '\\|'),
    tie('re').map((r) => `(${r})`),
  ),
  re: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('atom'),
    fc.tuple(tie('atom'), fc.constantFrom('*', '+', '?')).map(([a, q]) => a + q),
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => x + y),
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => `${x}|${y}`),
  ),
})).re

describe('regex: properties', () => {
  it('full match equals a JS ^(?:R)$ oracle, alternations included', () => {
    const value = fc.array(fc.constantFrom('a', 'b', '/', '\n', '|'), { maxLength: 8 }).map((c) => c.join(''))
    fc.assert(
      fc.property(regexArb, value, (pattern, text) => {
        const expected = new RegExp(`^(?:${pattern})$`).test(text)
        expect(compile({ regex: pattern }).test(text) === undefined).toBe(expected)
      }),
      { numRuns: 1000 },
    )
  })

  it('a newline anywhere defeats a pattern whose literals and dots exclude it', () => {
    const matcher = compile({ regex: 'acme/ci/.+@refs/heads/main' })
    fc.assert(
      fc.property(fc.string(), fc.string(), (pre, post) => {
        expect(matcher.test(`${pre}acme/ci/x\n@refs/heads/main${post}`)).toBe('no-match')
        expect(matcher.test(`${pre}\nacme/ci/x@refs/heads/main${post}`)).toBe('no-match')
      }),
    )
  })

  it('no matcher throws on arbitrary JSON or lone surrogates', () => {
    const matchers = [
      compile('x'),
      compile([1, 'x', true]),
      compile({ glob: 'a/*/**' }),
      compile({ regex: 'a.*' }),
    ]
    const anything = fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: 'binary' }),
      fc.array(fc.string({ unit: 'binary' })),
    )
    fc.assert(
      fc.property(anything, (value) => {
        for (const m of matchers)
          expect(['missing', 'wrong-type', 'no-match', undefined]).toContain(m.test(value))
      }),
      { numRuns: 1000 },
    )
  })
})

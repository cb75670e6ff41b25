import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileGlob, globProblem } from '../../lib/policy/glob.js'

/** Reference semantics, written independently: a memoised walk over pattern and value. */
function referenceGlob(pattern: string, value: string): boolean {
  const memo = new Map<number, boolean>()
  const walk = (i: number, j: number): boolean => {
    const key = i * (value.length + 1) + j
    const known = memo.get(key)
    if (known !== undefined) return known
    let result: boolean
    if (i === pattern.length) result = j === value.length
    else if (pattern.startsWith('**', i)) {
      result = false
      for (let k = j; k <= value.length && !result; k++) result = walk(i + 2, k)
    } else if (pattern[i] === '*') {
      result = false
      for (let k = j; k <= value.length && !result; k++) {
        result = walk(i + 1, k)
        if (value[k] === '/' || value[k] === ':' || value[k] === '\n') break
      }
    } else result = j < value.length && value[j] === pattern[i] && walk(i + 1, j + 1)
    memo.set(key, result)
    return result
  }
  return walk(0, 0)
}

const matches = (pattern: string, value: string) => compileGlob(pattern)(value)

describe('glob: valid patterns', () => {
  it.each([
    ['refs/heads/release/*', 'refs/heads/release/v1'],
    ['refs/heads/release/*', 'refs/heads/release/'],
    ['refs/heads/**', 'refs/heads/a/b:c'],
    ['refs/heads/**', 'refs/heads/'],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/app:ref:refs/heads/main'],
    ['repo:acme/**', 'repo:acme/app:ref:refs/tags/v1'],
    ['*', 'anything-without-separators'],
    ['*', ''],
    ['**', 'a/b:c\nd'],
    ['a*b*c', 'a-b-c'],
    ['a**c', 'a/b:c'],
    ['*/*', 'x/y'],
    ['**/main', 'org/repo/main'],
    ['a.b', 'a.b'],
  ])('%j matches %j', (pattern, value) => {
    expect(globProblem(pattern)).toBeUndefined()
    expect(matches(pattern, value)).toBe(true)
  })
})

describe('glob: * never crosses / or :, everything else is literal', () => {
  it.each([
    ['refs/heads/release/*', 'refs/heads/release/v1/evil'],
    ['refs/heads/release/*', 'refs/heads/release/a:b'],
    ['refs/heads/release/*', 'refs/heads/releasex'],
    ['refs/heads/release/*', 'xrefs/heads/release/v1'],
    ['refs/heads/release/*', 'refs/heads/release'],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/app/x:ref:refs/heads/main'],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/app:x:ref:refs/heads/main'],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/app:ref:refs/heads/main\n'],
    ['repo:acme/*:ref:refs/heads/main', 'evil\nrepo:acme/app:ref:refs/heads/main'],
    ['*', 'a/b'],
    ['*', 'a:b'],
    ['*/*', 'x/y/z'],
    ['a.b', 'axb'],
    ['a+', 'aa'],
    ['(x|y)', 'x'],
    ['x|y', 'x'],
    ['a?', 'a'],
    ['a?', 'ab'],
    ['[ab]', 'a'],
    ['\\d', '1'],
    ['^main$', 'main'],
    ['main', 'main\n'],
    ['main', ' main'],
    ['main', 'MAIN'],
    ['refs/**', 'ref'],
  ])('%j does not match %j', (pattern, value) => {
    expect(matches(pattern, value)).toBe(false)
  })

  it('treats newlines deterministically: ** matches them, a single * never does', () => {
    expect(matches('a*', 'a\nb')).toBe(false)
    expect(matches('a**', 'a\n/b')).toBe(true)
    expect(matches('a*c', 'a\n/c')).toBe(false)
  })

  it('keeps regex metacharacters literal (they match only themselves)', () => {
    expect(matches('a.b*', 'a.b-x')).toBe(true)
    expect(matches('(x|y)*', '(x|y)z')).toBe(true)
    expect(matches('\\E.*', '\\E.z')).toBe(true)
    expect(matches('\\E.*', '\\Exz')).toBe(false)
  })
})

describe('glob: invalid patterns', () => {
  it.each(['', '***', 'a***', '****', 'refs/*****/x'])('%j is rejected', (pattern) => {
    expect(globProblem(pattern)).toMatch(/glob/)
  })
})

const patternChars = fc.constantFrom('a', 'b', '/', ':', '\n', '.', '|', '(', '\\', '*', '**')
const valueChars = fc.constantFrom('a', 'b', '/', ':', '\n', '.', '|', '(', '\\', '*')
const validPattern = fc
  .array(patternChars, { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''))
  .filter((p) => globProblem(p) === undefined)

describe('glob: properties', () => {
  it('agrees with the reference implementation on small alphabets', () => {
    fc.assert(
      fc.property(validPattern, fc.array(valueChars, { maxLength: 10 }), (pattern, chars) => {
        const value = chars.join('')
        expect(matches(pattern, value)).toBe(referenceGlob(pattern, value))
      }),
      { numRuns: 3000 },
    )
  })

  it('matches every value built by filling the stars with allowed characters', () => {
    const segmentFill = fc.array(fc.constantFrom('a', '.', '*'), { maxLength: 3 }).map((c) => c.join(''))
    const anyFill = fc.array(fc.constantFrom('a', '/', ':', '\n'), { maxLength: 3 }).map((c) => c.join(''))
    const token = fc.oneof(
      fc.constantFrom('a', 'b', '/', ':', '.', '|').map((t) => ({ pattern: t, value: fc.constant(t) })),
      fc.constant({ pattern: '*', value: segmentFill }),
      fc.constant({ pattern: '**', value: anyFill }),
    )
    const built = fc
      .array(token, { minLength: 1, maxLength: 6 })
      .filter((ts) => globProblem(ts.map((t) => t.pattern).join('')) === undefined)
      .chain((ts) =>
        fc.tuple(...ts.map((t) => t.value)).map((values) => ({
          pattern: ts.map((t) => t.pattern).join(''),
          value: values.join(''),
        })),
      )
    fc.assert(
      fc.property(built, ({ pattern, value }) => {
        expect(matches(pattern, value)).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })

  it('a * segment never accepts a value whose filler holds / or :', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 6 }),
        fc.constantFrom('/', ':', '\n'),
        fc.string({ maxLength: 6 }),
        (a, sep, b) => {
          expect(matches('x/*/y', `x/${a}${sep}${b}/y`)).toBe(false)
        },
      ),
    )
  })
})

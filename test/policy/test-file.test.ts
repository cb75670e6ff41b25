import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PolicyTestFileError } from '../../lib/errors.js'
import { parseTestFile } from '../../lib/policy/test-file.js'

describe('parseTestFile', () => {
  it('reads a test with defaults: no request means no target and all scopes', () => {
    const [t] = parseTestFile(
      'tests:\n  - { name: a, provider: p, claims: { sub: x }, expect: { allow: false } }\n',
      'a.test.yaml',
    )
    expect(t).toEqual({
      file: 'a.test.yaml',
      line: 2,
      test: { name: 'a', provider: 'p', claims: { sub: 'x' }, request: {}, expect: { allow: false } },
    })
  })

  it('accepts one or several audiences and resources', () => {
    const text = `tests:
  - name: a
    provider: p
    claims: { sub: x }
    request: { audience: [https://a.example.com, https://b.example.com], resource: urn:r, scope: "a b" }
    expect: { allow: true }
`
    expect(parseTestFile(text, 'a.test.yaml')[0]?.test.request).toEqual({
      audience: ['https://a.example.com', 'https://b.example.com'],
      resource: 'urn:r',
      scope: 'a b',
    })
  })

  it.each([
    ['an empty audience list', 'request: { audience: [] }'],
    ['an empty scope', 'request: { scope: "" }'],
    ['a numeric audience', 'request: { audience: 42 }'],
    ['a bad provider name', 'provider: "has space"'],
  ])('refuses %s', (_label, line) => {
    const base = { name: 'a', provider: 'p', claims: '{ sub: x }', request: '{}', expect: '{ allow: true }' }
    const [key] = line.split(':') as [keyof typeof base]
    const fields = Object.entries(base).map(([k, v]) => (k === key ? `    ${line}` : `    ${k}: ${v}`))
    fields[0] = fields[0]?.replace(/^ {4}/, '  - ') ?? ''
    expect(() => parseTestFile(`tests:\n${fields.join('\n')}\n`, 'a.test.yaml')).toThrow(PolicyTestFileError)
  })

  it('fails only with PolicyTestFileError on any input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseTestFile(text, 'fuzz.test.yaml')
        } catch (error) {
          expect(error).toBeInstanceOf(PolicyTestFileError)
        }
      }),
      { numRuns: 200 },
    )
  })
})

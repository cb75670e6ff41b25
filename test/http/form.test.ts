import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BrokerError } from '../../lib/errors.js'
import { parseForm } from '../../lib/http/form.js'

const FORM = 'application/x-www-form-urlencoded'
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    return err instanceof BrokerError ? `${err.status} ${err.code}` : `not a BrokerError: ${String(err)}`
  }
  return 'ok'
}

describe('parseForm', () => {
  it('decodes + and percent-encoding, skips empty values, keeps repeatable values in order', () => {
    const f = parseForm(
      `${FORM}; charset=UTF-8`,
      'a=x+y%21&b=&audience=1&audience=2&&c',
      new Set(['audience']),
    )
    expect(f.get('a')).toBe('x y!')
    expect(f.has('b')).toBe(false)
    expect(f.has('c')).toBe(false)
    expect(f.getAll('audience')).toEqual(['1', '2'])
  })

  it.each([
    ['a repeated parameter', FORM, 'a=1&a=2', '400 invalid_request'],
    ['bad percent-encoding', FORM, 'a=%zz', '400 invalid_request'],
    ['truncated percent-encoding', FORM, 'a=%4', '400 invalid_request'],
    ['invalid UTF-8', FORM, 'a=%C3%28', '400 invalid_request'],
    ['a NUL byte', FORM, 'a=%00', '400 invalid_request'],
    ['a newline', FORM, 'a=x%0Ay', '400 invalid_request'],
    ['an empty name', FORM, '=x', '400 invalid_request'],
    ['JSON', 'application/json', 'a=1', '415 invalid_request'],
    ['no content type', undefined, 'a=1', '415 invalid_request'],
    ['a form-like prefix', 'application/x-www-form-urlencodedx', 'a=1', '415 invalid_request'],
    ['another charset', `${FORM}; charset=iso-8859-1`, 'a=1', '415 invalid_request'],
    ['a body over 64 KiB', FORM, `a=${'x'.repeat(65_536)}`, '413 invalid_request'],
  ])('rejects %s', (_, type, body, expected) => {
    expect(codeOf(() => parseForm(type, body))).toBe(expected)
  })

  it('property: any input either parses or fails with a 4xx BrokerError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.option(fc.string({ maxLength: 60 })), (body, type) => {
        const result = codeOf(() => parseForm(type ?? FORM, body))
        expect(result === 'ok' || /^4\d\d /.test(result)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it('property: URLSearchParams-encoded values round-trip', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !hasControl(s)),
          fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !hasControl(s) && s.isWellFormed()),
        ),
        (dict) => {
          const f = parseForm(FORM, new URLSearchParams(dict).toString())
          for (const [k, v] of Object.entries(dict)) expect(f.get(k)).toBe(v)
        },
      ),
    )
  })
})

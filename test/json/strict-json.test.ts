import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StrictJsonError } from '../../lib/errors.js'
import { parseJsonStrict } from '../../lib/json/strict-json.js'

describe('parseJsonStrict', () => {
  it('parses valid JSON exactly like JSON.parse', () => {
    const text = '{"a":1,"b":[{"a":2},{"a":3}],"c":{"d":"x:y","e":null},"f":"\\"a\\":1"}'
    expect(parseJsonStrict(text)).toEqual(JSON.parse(text))
    expect(parseJsonStrict(' [1, "two", {"k": true}] ')).toEqual([1, 'two', { k: true }])
    expect(parseJsonStrict('"just a string"')).toBe('just a string')
  })

  it('allows the same name in sibling and nested objects', () => {
    expect(parseJsonStrict('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}')).toEqual({
      a: { a: { a: 1 } },
      b: [{ a: 1 }, { a: 2 }],
    })
  })

  it('keeps __proto__ as a plain own member', () => {
    const value = parseJsonStrict('{"__proto__":{"polluted":true},"x":1}') as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.keys(value)).toContain('__proto__')
  })

  const rejected: [string, string][] = [
    ['top-level duplicate', '{"a":1,"a":2}'],
    ['duplicate with whitespace before colon', '{"a" :1, "a"\n:2}'],
    ['nested duplicate', '{"x":{"y":1,"y":1}}'],
    ['duplicate inside array element', '[1,{"k":1,"k":{}}]'],
    ['deep duplicate', '{"a":[[{"b":{"c":{"d":1,"d":1}}}]]}'],
    ['escaped-equal names', '{"a":1,"\\u0061":2}'],
    ['escaped quote names', '{"a\\"b":1,"a\\u0022b":2}'],
    ['duplicate after value containing a colon', '{"a":"x:y","a":"z"}'],
    ['duplicate __proto__', '{"__proto__":1,"__proto__":2}'],
    ['empty-name duplicate', '{"":1,"":2}'],
    ['not JSON', '{"a":1'],
    ['trailing comma', '{"a":1,}'],
    ['single quotes', "{'a':1}"],
    ['empty text', ''],
    ['NaN literal', '{"a":NaN}'],
  ]
  for (const [name, text] of rejected) {
    it(`refuses ${name}`, () => {
      expect(() => parseJsonStrict(text)).toThrow(StrictJsonError)
    })
  }

  it('raises a SyntaxError subclass that does not echo the member name', () => {
    try {
      parseJsonStrict('{"secret-name":1,"secret-name":2}')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(SyntaxError)
      expect((err as Error).message).not.toContain('secret-name')
    }
  })

  it('agrees with JSON.parse on duplicate-free JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value)
        expect(parseJsonStrict(text)).toEqual(JSON.parse(text))
      }),
      { numRuns: 500 },
    )
  })

  it('agrees on pretty-printed JSON too (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value, null, 2)
        expect(parseJsonStrict(text)).toEqual(JSON.parse(text))
      }),
      { numRuns: 200 },
    )
  })

  it('refuses any object that repeats a name, however it is escaped (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 8 }),
        fc.jsonValue(),
        fc.jsonValue(),
        fc.boolean(),
        (name, first, second, escaped) => {
          const spelled = escaped
            ? `"${[...name].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`
            : JSON.stringify(name)
          const text = `{"wrap":[{${JSON.stringify(name)}:${JSON.stringify(first)},${spelled}:${JSON.stringify(second)}}]}`
          expect(() => parseJsonStrict(text)).toThrow(StrictJsonError)
        },
      ),
      { numRuns: 300 },
    )
  })
})

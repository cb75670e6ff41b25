import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeUtf8 } from '../../lib/text/decode-utf8.js'

describe('decodeUtf8', () => {
  it('decodes valid UTF-8, including 4-byte sequences', () => {
    expect(decodeUtf8(Buffer.from('héllo 🔑'))).toBe('héllo 🔑')
    expect(decodeUtf8(new Uint8Array())).toBe('')
  })

  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an overlong encoding of /', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['an invalid byte', [0xff]],
  ])('refuses %s (never U+FFFD)', (_, bytes) => {
    expect(decodeUtf8(Uint8Array.from(bytes))).toBeUndefined()
  })

  it('property: it decodes exactly what round-trips, so two byte strings never decode alike', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = decodeUtf8(bytes)
        if (text !== undefined) expect(Buffer.from(text, 'utf8').equals(Buffer.from(bytes))).toBe(true)
        else
          expect(Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8').equals(Buffer.from(bytes))).toBe(
            false,
          )
      }),
    )
  })
})

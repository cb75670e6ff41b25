import { generateKeyPairSync, sign, verify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MalformedSignature } from '../../lib/errors.js'
import { derToJose } from '../../lib/keys/der-signature.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })

/** Minimal DER INTEGER for a non-negative big-endian magnitude (tests build signatures by hand). */
function derInt(magnitude: Uint8Array): Buffer {
  let i = 0
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++
  let v = Buffer.from(magnitude.subarray(i))
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02, v.length]), v])
}
const seq = (...parts: Buffer[]) => {
  const body = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
const hex = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex')
const r32 = Buffer.alloc(32, 0x11)
const s32 = Buffer.alloc(32, 0x22)

describe('derToJose', () => {
  it('converts 1,000 real node:crypto DER signatures to r||s that verify as ieee-p1363', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 256 }), (message) => {
        const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' })
        const jose = derToJose(der)
        expect(jose.length).toBe(64)
        return verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)
      }),
      { numRuns: 1000 },
    )
  })

  it('round-trips any r, s in range, including short integers and high-bit values', () => {
    const scalar = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0))
    const shortScalar = fc
      .uint8Array({ minLength: 1, maxLength: 31 })
      .filter((b) => b.some((x) => x !== 0))
      .map((b) => Buffer.concat([Buffer.alloc(32 - b.length), b]))
    fc.assert(
      fc.property(fc.oneof(scalar, shortScalar), fc.oneof(scalar, shortScalar), (r, s) => {
        const jose = derToJose(seq(derInt(r), derInt(s)))
        expect(Buffer.from(jose)).toEqual(Buffer.concat([r, s]))
      }),
      { numRuns: 500 },
    )
  })

  it('strips the leading 0x00 that keeps a high-bit r positive', () => {
    const r = Buffer.alloc(32, 0xff)
    const der = seq(Buffer.concat([hex('0221 00'), r]), derInt(s32))
    expect(Buffer.from(derToJose(der)).subarray(0, 32)).toEqual(r)
  })

  it('left-pads a one-byte s', () => {
    const out = derToJose(seq(derInt(r32), hex('0201 05')))
    expect(Buffer.from(out).subarray(32)).toEqual(Buffer.concat([Buffer.alloc(31), hex('05')]))
  })

  it('never throws anything but MalformedSignature on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          derToJose(bytes)
        } catch (err) {
          return err instanceof MalformedSignature
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })

  it('rejects random corruption of a valid signature or accepts only an equivalent one', () => {
    const der = sign('sha256', Buffer.from('x'), { key: privateKey, dsaEncoding: 'der' })
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), (pos, flip) => {
        const bad = Buffer.from(der)
        bad[pos]! ^= flip
        let jose: Uint8Array
        try {
          jose = derToJose(bad)
        } catch (err) {
          return err instanceof MalformedSignature
        }
        // Structure intact: only r or s bytes changed, so the signature must no longer verify.
        return !verify('sha256', Buffer.from('x'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)
      }),
      { numRuns: 300 },
    )
  })

  const invalid: [string, Buffer][] = [
    ['empty input', Buffer.alloc(0)],
    ['not a SEQUENCE', hex('3100')],
    ['SEQUENCE length too long', Buffer.concat([hex('3046'), derInt(r32), derInt(s32)])],
    ['SEQUENCE length too short', Buffer.concat([hex('3040'), derInt(r32), derInt(s32)])],
    ['trailing bytes after the SEQUENCE', Buffer.concat([seq(derInt(r32), derInt(s32)), hex('00')])],
    ['a third INTEGER', seq(derInt(r32), derInt(s32), hex('020101'))],
    ['only one INTEGER', seq(derInt(r32))],
    ['r is not an INTEGER', seq(Buffer.concat([hex('0320'), r32]), derInt(s32))],
    ['negative r', seq(Buffer.concat([hex('0220'), Buffer.alloc(32, 0x80)]), derInt(s32))],
    ['superfluous leading zero', seq(Buffer.concat([hex('0221 00'), r32]), derInt(s32))],
    ['zero s', seq(derInt(r32), hex('020100'))],
    ['empty s', seq(derInt(r32), hex('0200'))],
    ['r longer than 32 bytes', seq(Buffer.concat([hex('0221 01'), r32]), derInt(s32))],
    ['non-minimal long-form length', Buffer.concat([hex('308144'), derInt(r32), derInt(s32)])],
    ['indefinite length', Buffer.concat([hex('3080'), derInt(r32), derInt(s32), hex('0000')])],
    ['INTEGER length past the end', hex('3004 0210 0101')],
    ['truncated header', hex('30')],
    ['a P-1363 signature passed as DER', Buffer.concat([r32, s32])],
  ]
  for (const [name, bytes] of invalid) {
    it(`rejects ${name}`, () => {
      expect(() => derToJose(bytes)).toThrow(MalformedSignature)
    })
  }
})

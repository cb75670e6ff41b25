import { MalformedSignature } from '../errors.js'

/**
 * ECDSA signature encoding: KMS (like OpenSSL) returns ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`;
 * JWS (RFC 7518 §3.4) wants the fixed-width `r || s`. Strict DER only: a KMS reply that is not
 * exactly one minimal, positive pair of integers is refused rather than guessed at.
 */

interface Cursor {
  readonly bytes: Uint8Array
  pos: number
}

function readByte(c: Cursor): number {
  const b = c.bytes[c.pos]
  if (b === undefined) throw new MalformedSignature('truncated')
  c.pos += 1
  return b
}

/** DER length: short form, or long form with one or two bytes, minimal in both cases. */
function readLength(c: Cursor): number {
  const first = readByte(c)
  if (first < 0x80) return first
  const count = first & 0x7f
  if (count === 0 || count > 2) throw new MalformedSignature('unsupported length form')
  let len = 0
  for (let i = 0; i < count; i++) len = (len << 8) | readByte(c)
  const minimal = count === 1 ? len >= 0x80 : len >= 0x100
  if (!minimal) throw new MalformedSignature('non-minimal length')
  return len
}

/** Reads one positive INTEGER and writes it right-aligned into `out` (size bytes). */
function readInteger(c: Cursor, out: Uint8Array, name: string): void {
  if (readByte(c) !== 0x02) throw new MalformedSignature(`${name} is not an INTEGER`)
  const len = readLength(c)
  if (len === 0) throw new MalformedSignature(`${name} is empty`)
  if (c.pos + len > c.bytes.length) throw new MalformedSignature('truncated')
  let value = c.bytes.subarray(c.pos, c.pos + len)
  c.pos += len
  const head = value[0]!
  if (head & 0x80) throw new MalformedSignature(`${name} is negative`)
  if (head === 0x00) {
    // A leading zero is only allowed (and then required) to keep a high-bit value positive.
    if (len === 1) throw new MalformedSignature(`${name} is zero`)
    if ((value[1]! & 0x80) === 0) throw new MalformedSignature(`${name} has a superfluous leading zero`)
    value = value.subarray(1)
  }
  if (value.length > out.length) throw new MalformedSignature(`${name} is longer than ${out.length} bytes`)
  out.set(value, out.length - value.length)
}

/** Converts a DER ECDSA signature to JOSE `r || s` (2 × size bytes; size 32 for P-256). */
export function derToJose(der: Uint8Array, size = 32): Uint8Array {
  const c: Cursor = { bytes: der, pos: 0 }
  if (readByte(c) !== 0x30) throw new MalformedSignature('not a SEQUENCE')
  const len = readLength(c)
  if (c.pos + len !== der.length) throw new MalformedSignature('SEQUENCE length does not match')
  const out = new Uint8Array(2 * size)
  readInteger(c, out.subarray(0, size), 'r')
  readInteger(c, out.subarray(size), 's')
  if (c.pos !== der.length) throw new MalformedSignature('trailing bytes inside SEQUENCE')
  return out
}

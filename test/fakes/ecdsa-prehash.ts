import { randomBytes } from 'node:crypto'

/**
 * ECDSA P-256 over a caller-supplied digest, as KMS does for MessageType DIGEST. node:crypto has no
 * pre-hashed ECDSA sign (it always hashes), so the fake does the scalar arithmetic itself with the
 * private scalar of a real node:crypto key; every signature is verified by node:crypto/jose in tests.
 */

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const A = P - 3n
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
}

type Point = { x: bigint; y: bigint } | null

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m]
  let [s0, s1] = [1n, 0n]
  while (r1 !== 0n) {
    const q = r0 / r1
    ;[r0, r1] = [r1, r0 - q * r1]
    ;[s0, s1] = [s1, s0 - q * s1]
  }
  return mod(s0, m)
}

function add(p: Point, q: Point): Point {
  if (p === null) return q
  if (q === null) return p
  if (p.x === q.x && mod(p.y + q.y, P) === 0n) return null
  const l =
    p.x === q.x && p.y === q.y
      ? mod((3n * p.x * p.x + A) * inverse(2n * p.y, P), P)
      : mod((q.y - p.y) * inverse(q.x - p.x, P), P)
  const x = mod(l * l - p.x - q.x, P)
  return { x, y: mod(l * (p.x - x) - p.y, P) }
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null
  let addend = point
  for (let i = 0; i < 256 && k > 0n; i++) {
    if (k & 1n) result = add(result, addend)
    addend = add(addend, addend)
    k >>= 1n
  }
  return result
}

const toInt = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`)

function derInteger(v: bigint): Buffer {
  let hex = v.toString(16)
  if (hex.length % 2) hex = `0${hex}`
  let bytes = Buffer.from(hex, 'hex')
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes])
}

/** Signs a 32-byte digest with the private scalar `d` (base64url, from a JWK); returns DER. */
export function signDigestP256(digest: Uint8Array, d: string): Buffer {
  const priv = toInt(Buffer.from(d, 'base64url'))
  const z = toInt(digest)
  for (let attempt = 0; attempt < 16; attempt++) {
    const k = mod(toInt(randomBytes(40)), N - 1n) + 1n
    const r = mod(multiply(k, G)!.x, N)
    if (r === 0n) continue
    const s = mod(inverse(k, N) * (z + r * priv), N)
    if (s === 0n) continue
    const body = Buffer.concat([derInteger(r), derInteger(s)])
    return Buffer.concat([Buffer.from([0x30, body.length]), body])
  }
  throw new Error('could not produce a signature')
}

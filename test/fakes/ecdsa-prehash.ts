import { generateKeyPairSync } from 'node:crypto'

/**
 * ECDSA P-256 over a caller-supplied digest, as KMS does for MessageType DIGEST. node:crypto has no
 * pre-hashed ECDSA sign (it always hashes), so the fake computes `s` itself with the private scalar
 * of a real node:crypto key; every signature is verified by node:crypto/jose in tests.
 */

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

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

/**
 * A fresh nonce `k` and the x coordinate of `k·G`: an ephemeral node:crypto P-256 key is exactly
 * that pair (private scalar, public point), computed natively instead of by BigInt scalar
 * multiplication, which took tens of milliseconds per signature.
 */
function nonce(): { k: bigint; x: bigint } {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  return { k: toInt(Buffer.from(jwk.d ?? '', 'base64url')), x: toInt(Buffer.from(jwk.x ?? '', 'base64url')) }
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
    const { k, x } = nonce()
    const r = mod(x, N)
    if (r === 0n) continue
    const s = mod(inverse(k, N) * (z + r * priv), N)
    if (s === 0n) continue
    const body = Buffer.concat([derInteger(r), derInteger(s)])
    return Buffer.concat([Buffer.from([0x30, body.length]), body])
  }
  throw new Error('could not produce a signature')
}

import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'

export const TOKEN_URL = 'https://sts.example.com/token'
export const NOW = 1_780_000_000_000

/** A proof key pair: the private KeyObject and the public JWK a proof header carries. */
export interface ProofKey {
  readonly alg: 'ES256' | 'RS256'
  readonly privateKey: KeyObject
  readonly publicJwk: Record<string, unknown>
  readonly privateJwk: Record<string, unknown>
}

/** A fresh ES256 (P-256) or RS256 key; `bits` sets the RSA modulus. */
export function proofKey(alg: 'ES256' | 'RS256' = 'ES256', bits = 2048): ProofKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: bits })
  return {
    alg,
    privateKey,
    publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
  }
}

export function thumbprint(key: ProofKey): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk as { kty: string })
}

/** Signs raw header and payload texts (so tests can send what jose would never produce). */
export function signRaw(headerText: string, payloadText: string, key: ProofKey): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`
  const signature =
    key.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

/** A proof for POST TOKEN_URL at NOW, with header and payload members overridden (undefined removes one). */
export function makeProof(
  key: ProofKey,
  o: { header?: Record<string, unknown>; payload?: Record<string, unknown> } = {},
): string {
  const header = defined({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...o.header })
  const payload = defined({
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    htm: 'POST',
    htu: TOKEN_URL,
    iat: Math.floor(NOW / 1000),
    ...o.payload,
  })
  return signRaw(JSON.stringify(header), JSON.stringify(payload), key)
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64url')
}

import type { OidcProviderConfig } from '../config/providers/oidc.js'
import { InvalidRequest } from '../errors.js'
import { parseJsonStrict } from '../json/strict-json.js'
import { decodeUtf8 } from '../text/decode-utf8.js'

/** Longest JWT accepted; checked before any parsing. */
export const MAX_TOKEN_LENGTH = 20_000
const SEGMENT = /^[A-Za-z0-9_-]+$/
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** A compact JWS split and decoded, not verified: the segments as sent, header and payload as objects. */
export interface DecodedJwt {
  readonly header: Record<string, unknown>
  readonly payload: Record<string, unknown>
  readonly headerPart: string
  readonly payloadPart: string
  readonly signaturePart: string
}

/**
 * Decodes a compact JWS without verifying it: the one decoding every reader of a subject token uses
 * (the oidc verifier, `policy explain`), so they see the same claims. `what` names the token in
 * messages (`subject_token`, `the token`). Throws InvalidRequest.
 */
export function decodeJwt(token: string, what = 'subject_token'): DecodedJwt {
  const [headerPart, payloadPart, signaturePart] = splitCompact(token, what)
  return {
    header: decodeObject(headerPart, `${what} header`),
    payload: decodeObject(payloadPart, `${what} payload`),
    headerPart,
    payloadPart,
    signaturePart,
  }
}

/** Every `iss` an oidc provider is selected by (providers are selected by exact issuer). */
export function issuersOf(provider: Pick<OidcProviderConfig, 'issuer' | 'issuerAliases'>): string[] {
  return [provider.issuer, ...provider.issuerAliases]
}

function isCanonicalBase64url(part: string): boolean {
  const tail = part.length % 4
  if (tail === 0) return true
  // The last character carries 2 (tail 2) or 4 (tail 3) unused bits, which must be zero.
  const last = B64URL.indexOf(part.charAt(part.length - 1))
  return (last & (tail === 2 ? 0x0f : 0x03)) === 0
}

/** Splits a compact JWS into its three checked segments, refusing JWE and malformed text. */
function splitCompact(token: string, what: string): [string, string, string] {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new InvalidRequest(`${what} exceeds ${MAX_TOKEN_LENGTH} characters`)
  }
  const parts = token.split('.', 6)
  if (parts.length === 5)
    throw new InvalidRequest(`${what} is an encrypted JWT (JWE); a signed JWT is required`)
  if (parts.length !== 3) throw new InvalidRequest(`${what} is not a signed JWT (three base64url segments)`)
  for (const part of parts) {
    // A length of 1 mod 4 cannot come from any byte string. Non-canonical spellings (unused low
    // bits set in the last character) decode to the same bytes: refusing them keeps one token one
    // spelling, so a token-hash replay key cannot be dodged by re-spelling the signature.
    if (!SEGMENT.test(part) || part.length % 4 === 1 || !isCanonicalBase64url(part)) {
      throw new InvalidRequest(`${what} is not a signed JWT (malformed base64url)`)
    }
  }
  return parts as [string, string, string]
}

function decodeObject(segment: string, what: string): Record<string, unknown> {
  const text = decodeUtf8(Buffer.from(segment, 'base64url'))
  let value: unknown
  try {
    if (text === undefined) throw new InvalidRequest('not UTF-8')
    value = parseJsonStrict(text)
  } catch {
    throw new InvalidRequest(`${what} is not strict JSON (malformed, or a member name repeats)`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequest(`${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

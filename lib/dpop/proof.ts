import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose'
import { InvalidDpopProof } from '../errors.js'
import { parseJsonStrict } from '../json/strict-json.js'

// This module is shared by the broker (/token) and the verifier library for APIs, so it depends
// on nothing but jose, the error classes and the strict JSON reader.

/** The proof algorithms accepted (and advertised as `dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ['ES256', 'RS256'] as const
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

/** Seconds a proof's `iat` may differ from now, either way. */
export const DPOP_IAT_WINDOW = 60

const MAX_PROOF_LENGTH = 8192
const MAX_JTI_LENGTH = 256
const MIN_RSA_BITS = 2048
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
/** JWK members that hold private or symmetric key material (RFC 7518 §6). */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const KEY_TYPE: Readonly<Record<DpopAlgorithm, { kty: string; crv?: string }>> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  RS256: { kty: 'RSA' },
}

/** What the proof must have been made for. */
export interface ProofExpectations {
  /** The HTTP method of the request carrying the proof. */
  readonly method: string
  /** The request URL; its query and fragment are ignored (RFC 9449 §4.3), its path must have no dot segments. */
  readonly url: string
  /** Epoch milliseconds. */
  readonly now: number
  /** When set (a resource request), `ath` must be the hash of this access token. */
  readonly accessToken?: string | undefined
}

/** A valid proof: the key's RFC 7638 thumbprint, and what single use is judged by. */
export interface VerifiedProof {
  readonly jkt: string
  readonly jti: string
  /** Epoch seconds. */
  readonly iat: number
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.3): typ dpop+jwt, ES256 or RS256, a public `jwk` only,
 * signature by that key, `htm`, `htu`, `iat` within ±60 s and, for resource requests, `ath`.
 * Single use of `jti` is the caller's check. Throws InvalidDpopProof on any failure.
 */
export async function verifyDpopProof(proof: string, expect: ProofExpectations): Promise<VerifiedProof> {
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof) || !proof.split('.').every(isCanonical))
    throw new InvalidDpopProof('DPoP proof is not a compact JWS')
  const header = decodeSegment(proof.slice(0, proof.indexOf('.')), 'header')
  if (header.typ !== 'dpop+jwt') throw new InvalidDpopProof('DPoP proof typ must be dpop+jwt')
  const alg = header.alg
  if (!isDpopAlgorithm(alg))
    throw new InvalidDpopProof(`DPoP proof alg must be one of ${DPOP_ALGORITHMS.join(', ')}`)
  const jwk = publicJwk(header.jwk, alg)
  const key = await importKey(jwk, alg)

  let payloadBytes: Uint8Array
  try {
    ;({ payload: payloadBytes } = await compactVerify(proof, key, { algorithms: [alg] }))
  } catch {
    throw new InvalidDpopProof('DPoP proof signature does not verify with its jwk')
  }
  const payload = decodeJson(Buffer.from(payloadBytes).toString('utf8'), 'payload')

  const jti = payload.jti
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    throw new InvalidDpopProof(`DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`)
  if (payload.htm !== expect.method)
    throw new InvalidDpopProof('DPoP proof htm does not match the request method')
  if (typeof payload.htu !== 'string' || !sameTarget(payload.htu, expect.url))
    throw new InvalidDpopProof('DPoP proof htu does not match the request URL')
  const iat = payload.iat
  if (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat < 0)
    throw new InvalidDpopProof('DPoP proof iat must be a non-negative integer number of seconds')
  if (Math.abs(Math.floor(expect.now / 1000) - iat) > DPOP_IAT_WINDOW)
    throw new InvalidDpopProof(`DPoP proof iat is not within ${DPOP_IAT_WINDOW} seconds of now`)
  if (expect.accessToken !== undefined && payload.ath !== accessTokenHash(expect.accessToken))
    throw new InvalidDpopProof('DPoP proof ath does not match the access token')

  return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, iat }
}

/** `ath` (RFC 9449 §4.2): base64url SHA-256 of the access token's ASCII text. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url')
}

/**
 * The request URL a proof is compared with (RFC 9449 §4.3): scheme, host, port and path, without
 * query and fragment, after URL normalisation (case of scheme and host, default port, dot segments).
 */
export function proofTarget(url: string): string | undefined {
  try {
    const u = new URL(url)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined
    return `${u.origin}${u.pathname}`
  } catch {
    return undefined
  }
}

function sameTarget(htu: string, url: string): boolean {
  const a = proofTarget(htu)
  return a !== undefined && a === requestTarget(url)
}

/** The path of a URL as written: after `scheme://authority`, before query and fragment. */
const WRITTEN_PATH = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]*([^?#]*)/
/** A `.` or `..` segment (plain or percent-encoded), a backslash, a space or a control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const UNNORMALISED = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)|[\\\x00-\x20\x7f]/i

/**
 * The request URL's target, only when its path is already in normal form: normalising `/a/../b`
 * or `/a\..\b` to `/b` would let a proof for `/b` pass on a request a router answers as `/a/…`.
 */
function requestTarget(url: string): string | undefined {
  const path = WRITTEN_PATH.exec(url)?.[1]
  if (path === undefined || UNNORMALISED.test(path)) return undefined
  return proofTarget(url)
}

/** Unused trailing bits must be zero, so one proof has exactly one spelling. */
function isCanonical(segment: string): boolean {
  return Buffer.from(segment, 'base64url').toString('base64url') === segment
}

function isDpopAlgorithm(alg: unknown): alg is DpopAlgorithm {
  return typeof alg === 'string' && (DPOP_ALGORITHMS as readonly string[]).includes(alg)
}

/** The header `jwk`, refused when it carries private material or does not fit `alg`. */
function publicJwk(value: unknown, alg: DpopAlgorithm): JWK {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidDpopProof('DPoP proof header must carry a jwk object')
  const jwk = value as Record<string, unknown>
  if (SECRET_MEMBERS.some((m) => Object.hasOwn(jwk, m)))
    throw new InvalidDpopProof('DPoP proof jwk must be a public key (it holds private key members)')
  const want = KEY_TYPE[alg]
  if (jwk.kty !== want.kty || (want.crv !== undefined && jwk.crv !== want.crv))
    throw new InvalidDpopProof(`DPoP proof jwk does not fit ${alg}`)
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new InvalidDpopProof(`DPoP proof jwk alg is not ${alg}`)
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new InvalidDpopProof('DPoP proof jwk use must be sig')
  return jwk as JWK
}

type ImportedKey = Awaited<ReturnType<typeof importJWK>>

async function importKey(jwk: JWK, alg: DpopAlgorithm): Promise<ImportedKey> {
  let key: ImportedKey
  try {
    key = await importJWK({ ...jwk, ext: true }, alg)
  } catch {
    throw new InvalidDpopProof('DPoP proof jwk is not a valid key')
  }
  if (key instanceof Uint8Array || key.type !== 'public')
    throw new InvalidDpopProof('DPoP proof jwk must be a public key')
  const bits = (key.algorithm as { modulusLength?: number }).modulusLength
  if (alg === 'RS256' && (bits === undefined || bits < MIN_RSA_BITS))
    throw new InvalidDpopProof(`DPoP proof RSA key must have at least ${MIN_RSA_BITS} bits`)
  return key
}

function decodeSegment(segment: string, what: 'header'): Record<string, unknown> {
  return decodeJson(Buffer.from(segment, 'base64url').toString('utf8'), what)
}

function decodeJson(text: string, what: 'header' | 'payload'): Record<string, unknown> {
  let value: unknown
  try {
    value = parseJsonStrict(text)
  } catch {
    throw new InvalidDpopProof(`DPoP proof ${what} is not a JSON object with unique member names`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidDpopProof(`DPoP proof ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

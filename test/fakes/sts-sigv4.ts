import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/**
 * SigV4 verification for the STS fake, written from the AWS specification with node:crypto HMAC
 * (deliberately not @smithy/signature-v4, so a signing bug cannot verify itself).
 */

/** What the verifier needs to know of a principal. */
export interface SigningPrincipal {
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expired?: boolean
}

const MAX_SKEW_MS = 15 * 60 * 1000

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/

export function accessKeyOf(req: IncomingMessage): string | undefined {
  return AUTH_RE.exec(String(req.headers.authorization ?? ''))?.[1]
}

/**
 * Verifies a SigV4 header-signed request with HMAC-SHA256, computing the canonical request itself.
 * Returns 'ok' or the STS error code (SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken, …).
 */
export function verifySigV4(
  req: IncomingMessage,
  body: string,
  principals: ReadonlyMap<string, SigningPrincipal>,
  nowMs: number,
): string {
  const header = req.headers.authorization
  if (header === undefined) return 'MissingAuthenticationToken'
  const m = AUTH_RE.exec(header)
  if (!m) return 'IncompleteSignature'
  const [, keyId, day, region, service, signedList, signature] = m as unknown as string[]
  const principal = principals.get(keyId as string)
  if (!principal) return 'InvalidClientTokenId'
  if (service !== 'sts') return 'SignatureDoesNotMatch'
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (!dm || amzDate.slice(0, 8) !== day) return 'SignatureDoesNotMatch'
  const signedAt = Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +dm[4]!, +dm[5]!, +dm[6]!)
  if (Math.abs(nowMs - signedAt) > MAX_SKEW_MS) return 'SignatureDoesNotMatch'
  const signed = (signedList as string).split(';')
  if (!signed.includes('host')) return 'SignatureDoesNotMatch'
  const canonicalHeaders = signed
    .map((name) => {
      const raw = req.headers[name]
      if (raw === undefined) return undefined
      const value = (Array.isArray(raw) ? raw.join(',') : raw).trim().replace(/\s+/g, ' ')
      return `${name}:${value}\n`
    })
    .join('')
  if (signed.some((name) => req.headers[name] === undefined)) return 'SignatureDoesNotMatch'
  const url = new URL(req.url ?? '/', 'http://fake')
  const canonicalUri = url.pathname
    .split('/')
    .map((s) => rfc3986(decodeURIComponent(s)))
    .join('/')
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256Hex(body))
  if (payloadHash !== sha256Hex(body)) return 'SignatureDoesNotMatch'
  const canonical = [req.method, canonicalUri, query, canonicalHeaders, signedList, payloadHash].join('\n')
  const scope = `${day}/${region}/${service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n')
  let key = hmac(`AWS4${principal.secretAccessKey}`, day as string)
  for (const part of [region as string, 'sts', 'aws4_request']) key = hmac(key, part)
  const expected = hmac(key, toSign)
  const given = Buffer.from(signature as string, 'hex')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'SignatureDoesNotMatch'
  if (
    principal.sessionToken !== undefined &&
    req.headers['x-amz-security-token'] !== principal.sessionToken
  ) {
    return 'InvalidClientTokenId'
  }
  if (principal.expired) return 'ExpiredToken'
  return 'ok'
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex')
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

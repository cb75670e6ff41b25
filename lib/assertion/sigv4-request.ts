import { createHash } from 'node:crypto'
import * as z from 'zod'
import { InvalidRequest } from '../errors.js'
import { parseJsonStrict } from '../json/strict-json.js'
import { decodeUtf8 } from '../text/decode-utf8.js'

/**
 * The `aws-sigv4` subject token: base64url (no padding) JSON `{method, url, headers, body}` of a
 * SigV4-signed sts:GetCallerIdentity request. Everything here runs BEFORE the request is forwarded,
 * so a hostile token can never make Tessera talk to another host (SSRF), call another action, or
 * replay a request signed for another Tessera deployment.
 */

export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15'
export const SERVER_ID_HEADER = 'x-tessera-server-id'
/** Subject token cap: a session token is ~1-4 KB; 16 KiB of base64url leaves room without inviting abuse. */
export const MAX_TOKEN_CHARS = 16_384
/** How far X-Amz-Date may be from now, either way. */
export const MAX_DATE_SKEW_MS = 5 * 60_000
const MAX_HEADERS = 16
const MAX_HEADER_VALUE = 8192

/** Region names as AWS spells them (us-east-1, ap-southeast-2, us-gov-west-1, eu-central-2, …). */
const REGION = '[a-z]{2}(?:-[a-z]+){1,2}-\\d{1,2}'
/** The only URLs accepted, compared as exact strings: no port, userinfo, path, query or fragment. */
const STS_URL_RE = new RegExp(`^https://(sts(?:\\.(${REGION}))?\\.amazonaws\\.com)/$`)
const AUTHORIZATION_RE =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+){0,31}), ?Signature=([0-9a-f]{64})$/
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const FORM_TYPE_RE = /^application\/x-www-form-urlencoded(?:; ?charset=utf-8)?$/i

/**
 * Headers a GetCallerIdentity request may carry. Anything else (Accept, X-Forwarded-*, …) could change
 * how STS answers or what a proxy does, so it is refused rather than dropped.
 */
const ALLOWED_HEADERS = new Set([
  'authorization',
  'host',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'content-type',
  'content-length',
  SERVER_ID_HEADER,
  'user-agent',
  'x-amz-user-agent',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
])

const SignedRequestSchema = z.strictObject({
  method: z.string().max(16),
  url: z.string().max(256),
  headers: z
    .record(z.string().max(64), z.string().max(MAX_HEADER_VALUE))
    .refine((h) => Object.keys(h).length <= MAX_HEADERS, { message: `at most ${MAX_HEADERS} headers` }),
  body: z.string().max(1024),
})
export type PresentedRequest = z.output<typeof SignedRequestSchema>

/** A presented request that passed every check, ready to forward to STS. */
export interface CheckedRequest {
  /** The signed STS host (sts.amazonaws.com or sts.<region>.amazonaws.com): the subject's issuer. */
  readonly host: string
  readonly region: string
  readonly accessKeyId: string
  /** The SigV4 signature (64 lower-case hex digits): identifies the signed request exactly. */
  readonly signature: string
  /** X-Amz-Date, epoch milliseconds. */
  readonly signedAt: number
  /** The signed X-Tessera-Server-ID value, when present. */
  readonly serverId: string | undefined
  /** Headers to send, lower-case names (Host included; Content-Length left to the transport). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Decodes the subject token: strict base64url, UTF-8, JSON without duplicate names, exact shape. */
export function decodeSignedRequest(token: string): PresentedRequest {
  if (token.length > MAX_TOKEN_CHARS)
    throw new InvalidRequest(`subject_token exceeds ${MAX_TOKEN_CHARS} characters`)
  // Canonical base64url only: no padding, no other alphabet, no non-zero trailing bits.
  const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : undefined
  if (!bytes || bytes.toString('base64url') !== token) {
    throw new InvalidRequest('subject_token is not base64url (without padding) of a signed request')
  }
  const text = decodeUtf8(bytes)
  if (text === undefined) throw new InvalidRequest('subject_token does not decode to UTF-8 text')
  let json: unknown
  try {
    json = parseJsonStrict(text)
  } catch {
    throw new InvalidRequest('subject_token is not a JSON object without repeated member names')
  }
  const parsed = SignedRequestSchema.safeParse(json)
  if (!parsed.success) {
    throw new InvalidRequest('subject_token must be JSON {method, url, headers, body} with string values')
  }
  return parsed.data
}

/** Options for {@link checkSignedRequest}. */
export interface CheckOptions {
  /** Epoch milliseconds. */
  readonly now: number
  /** Server ids configured on the candidate providers. */
  readonly serverIds: readonly string[]
  /** Every candidate provider sets serverIdHeader, so the header is mandatory. */
  readonly requireServerId: boolean
}

/** Checks a presented request fully before it may be forwarded; throws InvalidRequest naming the problem. */
export function checkSignedRequest(req: PresentedRequest, opts: CheckOptions): CheckedRequest {
  if (req.method !== 'POST') throw new InvalidRequest('the signed request must use method POST')
  const target = parseStsUrl(req.url)
  if (!target) {
    throw new InvalidRequest(
      'the signed request must target https://sts.amazonaws.com/ or https://sts.<region>.amazonaws.com/',
    )
  }
  const { host, region } = target
  if (req.body !== GET_CALLER_IDENTITY_BODY) {
    throw new InvalidRequest(`the signed request body must be exactly ${GET_CALLER_IDENTITY_BODY}`)
  }
  const headers = normaliseHeaders(req.headers)

  if (headers.host !== host) throw new InvalidRequest('the signed Host header must equal the URL host')
  const signedAt = parseAmzDate(headers['x-amz-date'])
  if (Math.abs(opts.now - signedAt) > MAX_DATE_SKEW_MS) {
    throw new InvalidRequest('X-Amz-Date of the signed request is more than 5 minutes from now')
  }

  const auth = AUTHORIZATION_RE.exec(headers.authorization ?? '')
  if (!auth) throw new InvalidRequest('the signed request needs an AWS4-HMAC-SHA256 Authorization header')
  const [, accessKeyId, day, scopeRegion, service, signedList, signature] = auth as unknown as [
    string,
    ...string[],
  ]
  if (day !== headers['x-amz-date']?.slice(0, 8)) {
    throw new InvalidRequest('the credential scope date does not match X-Amz-Date')
  }
  if (service !== 'sts') throw new InvalidRequest('the credential scope service must be sts')
  if (scopeRegion !== region) {
    throw new InvalidRequest(`the credential scope region must be ${region} for ${host}`)
  }
  const signed = (signedList as string).split(';')
  for (let i = 1; i < signed.length; i++) {
    if ((signed[i - 1] as string) >= (signed[i] as string)) {
      throw new InvalidRequest('SignedHeaders must be sorted and unique')
    }
  }
  for (const name of signed) {
    if (headers[name] === undefined)
      throw new InvalidRequest(`signed header '${name}' is missing from the request`)
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!signed.includes(required))
      throw new InvalidRequest(`the signature must cover the ${required} header`)
  }

  checkBodyHeaders(headers, req.body)
  const serverId = checkServerId(headers, signed, opts)
  const forward: Record<string, string> = { ...headers }
  delete forward['content-length']
  forward['content-type'] ??= 'application/x-www-form-urlencoded; charset=utf-8'
  return {
    host,
    region,
    accessKeyId: accessKeyId as string,
    signature: signature as string,
    signedAt,
    serverId,
    headers: forward,
    body: req.body,
  }
}

/** The STS host and signing region of an allowed URL (exact string match), or undefined. */
export function parseStsUrl(url: string): { host: string; region: string } | undefined {
  const m = STS_URL_RE.exec(url)
  // The global endpoint signs as us-east-1.
  return m ? { host: m[1] as string, region: m[2] ?? 'us-east-1' } : undefined
}

/** Lower-cases names; refuses duplicates (case-insensitive), unknown names and unsafe values. */
function normaliseHeaders(raw: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(raw)) {
    const lower = name.toLowerCase()
    if (!/^[a-z0-9-]{1,64}$/.test(lower))
      throw new InvalidRequest('a header name of the signed request is malformed')
    if (!ALLOWED_HEADERS.has(lower)) {
      throw new InvalidRequest(`header '${lower}' is not allowed in the signed request`)
    }
    if (out[lower] !== undefined) throw new InvalidRequest(`header '${lower}' appears more than once`)
    // Printable ASCII only: no CR/LF (header injection), no control characters.
    if (!/^[\x20-\x7e]*$/.test(value)) throw new InvalidRequest(`header '${lower}' has a malformed value`)
    out[lower] = value
  }
  return out
}

function parseAmzDate(value: string | undefined): number {
  const m = AMZ_DATE_RE.exec(value ?? '')
  if (!m) throw new InvalidRequest('the signed request needs X-Amz-Date as YYYYMMDDTHHMMSSZ')
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(ms)
  // Date.UTC rolls 20240230 over to March; a real date must round-trip.
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    throw new InvalidRequest('X-Amz-Date of the signed request is not a valid date')
  }
  return ms
}

function checkBodyHeaders(headers: Readonly<Record<string, string>>, body: string): void {
  const type = headers['content-type']
  if (type !== undefined && !FORM_TYPE_RE.test(type)) {
    throw new InvalidRequest('Content-Type of the signed request must be application/x-www-form-urlencoded')
  }
  const length = headers['content-length']
  if (length !== undefined && length !== String(Buffer.byteLength(body, 'utf8'))) {
    throw new InvalidRequest('Content-Length of the signed request does not match its body')
  }
  const digest = headers['x-amz-content-sha256']
  if (digest !== undefined && digest !== createHash('sha256').update(body, 'utf8').digest('hex')) {
    throw new InvalidRequest('X-Amz-Content-Sha256 of the signed request does not match its body')
  }
}

function checkServerId(
  headers: Readonly<Record<string, string>>,
  signed: readonly string[],
  opts: CheckOptions,
): string | undefined {
  const value = headers[SERVER_ID_HEADER]
  if (value === undefined) {
    if (opts.requireServerId) throw new InvalidRequest('the signed request must carry X-Tessera-Server-ID')
    return undefined
  }
  if (!signed.includes(SERVER_ID_HEADER)) throw new InvalidRequest('X-Tessera-Server-ID must be signed')
  // A request naming another deployment was meant for it: refuse even if a provider needs no server id.
  if (!opts.serverIds.includes(value))
    throw new InvalidRequest('X-Tessera-Server-ID does not name this server')
  return value
}

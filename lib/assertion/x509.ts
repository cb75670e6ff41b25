import { X509Certificate } from 'node:crypto'
import type { SignerId } from './cms.js'

/** An X.509 certificate with the fields signer selection and chain building compare. */
export interface ParsedCertificate {
  readonly der: Buffer
  readonly x509: X509Certificate
  /** DER of the issuer and subject Names, compared byte for byte. */
  readonly issuer: Buffer
  readonly subject: Buffer
  /** Content bytes of the serialNumber INTEGER. */
  readonly serial: Buffer
  readonly subjectKeyId: Buffer | undefined
  readonly notBefore: number
  readonly notAfter: number
  readonly commonNames: readonly string[]
  readonly isCa: boolean
  /** Key-usage bits when the extension is present. */
  readonly keyUsage: { readonly digitalSignature: boolean; readonly keyCertSign: boolean } | undefined
  /** basicConstraints pathLenConstraint: most CA certificates allowed below this one. */
  readonly pathLen: number | undefined
  /** extendedKeyUsage purposes (dotted OIDs) when the extension is present. */
  readonly extendedKeyUsage: readonly string[] | undefined
  /** True when the certificate declares name constraints (which Tessera does not evaluate). */
  readonly hasNameConstraints: boolean
}

const OID_CN = Buffer.from([0x55, 0x04, 0x03])
const OID_SUBJECT_KEY_ID = Buffer.from([0x55, 0x1d, 0x0e])
const OID_KEY_USAGE = Buffer.from([0x55, 0x1d, 0x0f])
const OID_BASIC_CONSTRAINTS = Buffer.from([0x55, 0x1d, 0x13])
const OID_NAME_CONSTRAINTS = Buffer.from([0x55, 0x1d, 0x1e])
const OID_EXT_KEY_USAGE = Buffer.from([0x55, 0x1d, 0x25])
/** anyExtendedKeyUsage (2.5.29.37.0): a CA that lists it restricts nothing. */
const ANY_EKU = '2.5.29.37.0'

/** One DER TLV: `start` is the tag, `body` the content, `end` one past it. */
interface Tlv {
  readonly tag: number
  readonly start: number
  readonly body: number
  readonly end: number
}

/** Reads one definite-length DER TLV at `at` within [0, limit); throws on anything malformed. */
function readTlv(buf: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER')
  const tag = buf[at] as number
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not expected here')
  let len = buf[at + 1] as number
  let body = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 3 || body + n > limit) throw new Error('bad DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + (buf[body + i] as number)
    body += n
  }
  if (body + len > limit) throw new Error('truncated DER')
  return { tag, start: at, body, end: body + len }
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = []
  for (let at = parent.body; at < parent.end; ) {
    const child = readTlv(buf, at, parent.end)
    out.push(child)
    at = child.end
    if (out.length > 4096) throw new Error('too many DER elements')
  }
  return out
}

/** UTCTime (0x17) or GeneralizedTime (0x18) in the forms RFC 5280 §4.1.2.5 allows, to epoch ms. */
function readTime(buf: Buffer, t: Tlv): number {
  const text = buf.toString('latin1', t.body, t.end)
  const m = (
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
  ).exec(text)
  if (!m || (t.tag !== 0x17 && t.tag !== 0x18)) throw new Error('bad certificate time')
  let year = Number(m[1])
  if (t.tag === 0x17) year += year >= 50 ? 1900 : 2000
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

const parsed = new Map<string, ParsedCertificate>()

/**
 * Parses one DER certificate (OpenSSL checks the whole structure; a small DER reader extracts the
 * raw names, serial and extensions compared here). Cached by content. Throws a plain Error.
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const bytes = Buffer.from(der)
  const cacheKey = bytes.toString('base64')
  const cached = parsed.get(cacheKey)
  if (cached) return cached
  const x509 = new X509Certificate(bytes)
  const outer = readTlv(bytes, 0, bytes.length)
  if (outer.end !== bytes.length) throw new Error('trailing bytes after the certificate')
  const [tbs] = children(bytes, outer)
  if (!tbs) throw new Error('no tbsCertificate')
  const fields = children(bytes, tbs)
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0
  const [serial, , issuer, validity, subject] = fields.slice(offset) as (Tlv | undefined)[]
  if (!serial || !issuer || !validity || !subject) throw new Error('incomplete tbsCertificate')
  const [notBefore, notAfter] = children(bytes, validity)
  if (!notBefore || !notAfter) throw new Error('bad validity')
  const commonNames: string[] = []
  for (const rdn of children(bytes, subject)) {
    for (const atv of children(bytes, rdn)) {
      const [type, value] = children(bytes, atv)
      if (type && value && bytes.subarray(type.body, type.end).equals(OID_CN)) {
        const raw = Buffer.from(bytes.subarray(value.body, value.end))
        // BMPString is UTF-16 big-endian; the other string types in names are UTF-8 compatible.
        commonNames.push(value.tag === 0x1e ? raw.swap16().toString('utf16le') : raw.toString('utf8'))
      }
    }
  }
  let subjectKeyId: Buffer | undefined
  let keyUsage: ParsedCertificate['keyUsage']
  let pathLen: number | undefined
  let extendedKeyUsage: string[] | undefined
  let hasNameConstraints = false
  const extensionsWrapper = fields.find((f) => f.tag === 0xa3)
  const [extensions] = extensionsWrapper ? children(bytes, extensionsWrapper) : []
  for (const ext of extensions ? children(bytes, extensions) : []) {
    const parts = children(bytes, ext)
    const id = parts[0] ? bytes.subarray(parts[0].body, parts[0].end) : Buffer.alloc(0)
    const value = parts[parts.length - 1]
    if (value?.tag !== 0x04) continue
    const inner = readTlv(bytes, value.body, value.end)
    if (id.equals(OID_SUBJECT_KEY_ID) && inner.tag === 0x04)
      subjectKeyId = Buffer.from(bytes.subarray(inner.body, inner.end))
    if (id.equals(OID_KEY_USAGE) && inner.tag === 0x03 && inner.end - inner.body >= 2) {
      const bits = bytes[inner.body + 1] as number
      keyUsage = { digitalSignature: (bits & 0x80) !== 0, keyCertSign: (bits & 0x04) !== 0 }
    }
    if (id.equals(OID_NAME_CONSTRAINTS)) hasNameConstraints = true
    if (id.equals(OID_BASIC_CONSTRAINTS) && inner.tag === 0x30) {
      const length = children(bytes, inner).find((t) => t.tag === 0x02)
      if (length) pathLen = smallInteger(bytes.subarray(length.body, length.end))
    }
    if (id.equals(OID_EXT_KEY_USAGE) && inner.tag === 0x30) {
      extendedKeyUsage = children(bytes, inner)
        .filter((t) => t.tag === 0x06)
        .map((t) => oidText(bytes.subarray(t.body, t.end)))
    }
  }
  const result: ParsedCertificate = {
    der: bytes,
    x509,
    issuer: Buffer.from(bytes.subarray(issuer.start, issuer.end)),
    subject: Buffer.from(bytes.subarray(subject.start, subject.end)),
    serial: Buffer.from(bytes.subarray(serial.body, serial.end)),
    subjectKeyId,
    notBefore: readTime(bytes, notBefore),
    notAfter: readTime(bytes, notAfter),
    commonNames,
    isCa: x509.ca,
    keyUsage,
    pathLen,
    extendedKeyUsage,
    hasNameConstraints,
  }
  if (parsed.size < 1024) parsed.set(cacheKey, result)
  return result
}

/** Parses every PEM CERTIFICATE block in `text` (at least one); throws a plain Error otherwise. */
export function parsePemCertificates(text: string): ParsedCertificate[] {
  const blocks = [
    ...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g),
  ]
  if (blocks.length === 0) throw new Error('no PEM certificate found')
  return blocks.map((m) => parseCertificate(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')))
}

/** True when `cert` is the certificate the SignerInfo names (issuer + serial, or subject key id). */
export function isNamedBy(signerId: SignerId, cert: ParsedCertificate): boolean {
  if (signerId.kind === 'issuerSerial')
    return cert.issuer.equals(signerId.issuer) && cert.serial.equals(signerId.serial)
  return cert.subjectKeyId?.equals(signerId.keyId) === true
}

/** True when `cert` is valid at `now` (epoch ms). */
export function isCurrent(cert: ParsedCertificate, now: number): boolean {
  return cert.notBefore <= now && now <= cert.notAfter
}

const MAX_CHAIN = 6
/** A real attested-data blob carries the leaf and at most a couple of intermediates. */
const MAX_INTERMEDIATES = 8
const MAX_SIGNATURE_CHECKS = 32

/**
 * Builds a path from `leaf` up to one of `roots` through `intermediates` (names compared as DER,
 * each signature checked, each certificate valid at `now`, intermediates must be CAs allowed to
 * sign certificates). Returns the path (leaf first, root last) or undefined. Never fetches anything.
 */
export function buildChain(
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  roots: readonly ParsedCertificate[],
  now: number,
): ParsedCertificate[] | undefined {
  // The certificates come from the caller: bound the work so a blob of look-alike CAs cannot make
  // the search exponential. Each (issuer, child) signature is checked at most once, and at most
  // MAX_SIGNATURE_CHECKS times in all; candidates beyond MAX_INTERMEDIATES are ignored.
  const candidates = intermediates.slice(0, MAX_INTERMEDIATES)
  const checked = new Map<string, boolean>()
  let budget = MAX_SIGNATURE_CHECKS
  const verified = (issuer: ParsedCertificate, child: ParsedCertificate): boolean => {
    if (!issuer.subject.equals(child.issuer)) return false
    const key = `${issuer.x509.fingerprint256}>${child.x509.fingerprint256}`
    let ok = checked.get(key)
    if (ok === undefined) {
      if (budget-- <= 0) return false
      ok = signs(issuer, child)
      checked.set(key, ok)
    }
    return ok
  }
  const search = (path: ParsedCertificate[]): ParsedCertificate[] | undefined => {
    const current = path[path.length - 1] as ParsedCertificate
    if (!isCurrent(current, now)) return undefined
    for (const root of roots) {
      if (verified(root, current) && isCurrent(root, now) && mayIssueBelow(root, path)) return [...path, root]
    }
    if (path.length >= MAX_CHAIN) return undefined
    for (const next of candidates) {
      if (path.some((p) => p.der.equals(next.der)) || !mayIssueBelow(next, path) || !verified(next, current))
        continue
      const found = search([...path, next])
      if (found) return found
    }
    return undefined
  }
  return search([leaf])
}

/**
 * The constraints a CA puts on the path below it (leaf first in `below`): its pathLenConstraint
 * bounds the CA certificates under it; its extended key usage, unless anyExtendedKeyUsage, must
 * cover every purpose a certificate below it claims; and a CA declaring name constraints is never
 * used at all, since Tessera does not evaluate them (fail closed rather than ignore them).
 */
function mayIssueBelow(ca: ParsedCertificate, below: readonly ParsedCertificate[]): boolean {
  if (ca.hasNameConstraints) return false
  if (ca.pathLen !== undefined && below.length - 1 > ca.pathLen) return false
  const allowed = ca.extendedKeyUsage
  if (allowed === undefined || allowed.includes(ANY_EKU)) return true
  return below.every((c) => (c.extendedKeyUsage ?? []).every((purpose) => allowed.includes(purpose)))
}

/** A non-negative DER INTEGER small enough to be a path length; anything else counts as 0. */
function smallInteger(content: Uint8Array): number {
  if (content.length === 0 || content.length > 2 || ((content[0] as number) & 0x80) !== 0) return 0
  return content.reduce((n, b) => n * 256 + b, 0)
}

/** Dotted text of an OBJECT IDENTIFIER's content bytes. */
function oidText(content: Uint8Array): string {
  const arcs: number[] = []
  let value = 0
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f)
    if ((byte & 0x80) === 0) {
      arcs.push(value)
      value = 0
    }
  }
  const first = arcs.shift() ?? 0
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80]
  return [...head, ...arcs].join('.')
}

/** `issuer` is a CA whose name and key produced `child`'s signature. */
function signs(issuer: ParsedCertificate, child: ParsedCertificate): boolean {
  if (!issuer.subject.equals(child.issuer)) return false
  if (!issuer.isCa || (issuer.keyUsage && !issuer.keyUsage.keyCertSign)) return false
  try {
    return child.x509.verify(issuer.x509.publicKey)
  } catch {
    return false
  }
}

import { createHash, type KeyObject, timingSafeEqual, verify as verifySignature } from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import type * as z from 'zod'
import { InvalidRequest } from '../errors.js'
import { parseJsonStrict } from '../json/strict-json.js'
import { decodeUtf8 } from '../text/decode-utf8.js'

/** Object identifiers this module checks (RFC 5652, RFC 5754, RFC 8017, RFC 5758). */
export const Oids = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const

export type DigestName = 'sha256' | 'sha384' | 'sha512'

const DIGESTS: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
  '1.2.840.113549.2.5': 'md5',
}

/** Signature algorithms: key type and the digest they imply (undefined = the SignerInfo's digest). */
const SIGNATURES: Readonly<Record<string, { key: 'rsa' | 'ec'; digest?: string }>> = {
  [Oids.rsaEncryption]: { key: 'rsa' },
  '1.2.840.113549.1.1.11': { key: 'rsa', digest: 'sha256' },
  '1.2.840.113549.1.1.12': { key: 'rsa', digest: 'sha384' },
  '1.2.840.113549.1.1.13': { key: 'rsa', digest: 'sha512' },
  '1.2.840.10045.4.3.2': { key: 'ec', digest: 'sha256' },
  '1.2.840.10045.4.3.3': { key: 'ec', digest: 'sha384' },
  '1.2.840.10045.4.3.4': { key: 'ec', digest: 'sha512' },
}

/** How a SignerInfo names its certificate (RFC 5652 §5.3 SignerIdentifier). */
export type SignerId =
  | { readonly kind: 'issuerSerial'; readonly issuer: Buffer; readonly serial: Buffer }
  | { readonly kind: 'subjectKeyId'; readonly keyId: Buffer }

/** The parts of a CMS SignedData this project ever looks at; nothing is trusted yet. */
export interface SignedDataParts {
  /** The encapsulated content (eContent), the only place identity is read from. */
  readonly content: Buffer
  readonly signerId: SignerId
  /** OID of the SignerInfo's digestAlgorithm. */
  readonly digestOid: string
  /** DER of the signed attributes re-tagged as SET OF (what the signature covers), when present. */
  readonly signedAttrs: Buffer | undefined
  readonly attributes: readonly { readonly type: string; readonly values: readonly asn1js.AsnType[] }[]
  readonly signatureOid: string
  readonly signature: Buffer
  /** DER of each certificate carried in the blob (never trusted by themselves). */
  readonly certificates: readonly Buffer[]
}

const bad = (what: string) => new InvalidRequest(`${what}`)

/** Decodes standard base64 strictly (alphabet, padding, canonical trailing bits); throws InvalidRequest. */
export function decodeBase64Strict(text: string, label: string): Buffer {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw bad(`${label} is not base64`)
  }
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) throw bad(`${label} is not canonical base64`)
  return bytes
}

/**
 * Parses DER/BER bytes as a CMS ContentInfo holding SignedData with exactly one SignerInfo and
 * encapsulated id-data content. Structure only: no signature or trust decision is made here.
 */
export function parseSignedData(der: Uint8Array): SignedDataParts {
  let asn1: ReturnType<typeof asn1js.fromBER>
  try {
    asn1 = asn1js.fromBER(der)
  } catch {
    // asn1js throws plain Errors on some malformed input: still the caller's fault, never a 500.
    throw bad('the PKCS#7 blob is not valid DER')
  }
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) throw bad('the PKCS#7 blob is not valid DER')
  let signedData: pkijs.SignedData
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result })
    if (info.contentType !== Oids.signedData) throw bad('the PKCS#7 blob is not CMS SignedData')
    signedData = new pkijs.SignedData({ schema: info.content })
  } catch (err) {
    if (err instanceof InvalidRequest) throw err
    throw bad('the PKCS#7 blob is not a valid CMS SignedData structure')
  }
  if (signedData.signerInfos.length !== 1) throw bad('the PKCS#7 blob must carry exactly one SignerInfo')
  const signer = signedData.signerInfos[0] as pkijs.SignerInfo
  const encap = signedData.encapContentInfo
  if (encap.eContentType !== Oids.data) throw bad('the signed content type must be id-data')
  const content = readOctetString(encap.eContent)
  if (!content) throw bad('the signed content must be encapsulated (detached signatures are refused)')
  return {
    content,
    signerId: readSignerId(signer),
    digestOid: signer.digestAlgorithm.algorithmId,
    signedAttrs: signer.signedAttrs ? Buffer.from(signer.signedAttrs.encodedValue) : undefined,
    attributes: (signer.signedAttrs?.attributes ?? []).map((a) => ({ type: a.type, values: a.values })),
    signatureOid: signer.signatureAlgorithm.algorithmId,
    signature: Buffer.from(signer.signature.valueBlock.valueHexView),
    certificates: (signedData.certificates ?? []).flatMap((c) =>
      c instanceof pkijs.Certificate ? [Buffer.from(c.toSchema().toBER())] : [],
    ),
  }
}

/** The eContent bytes (primitive or constructed OCTET STRING); undefined when absent or empty. */
function readOctetString(value: asn1js.AsnType | undefined): Buffer | undefined {
  if (!(value instanceof asn1js.OctetString)) return undefined
  const parts: Buffer[] = []
  if (value.idBlock.isConstructed) {
    for (const piece of value.valueBlock.value) {
      if (!(piece instanceof asn1js.OctetString) || piece.idBlock.isConstructed) return undefined
      parts.push(Buffer.from(piece.valueBlock.valueHexView))
    }
  } else parts.push(Buffer.from(value.valueBlock.valueHexView))
  const bytes = Buffer.concat(parts)
  return bytes.length > 0 ? bytes : undefined
}

function readSignerId(signer: pkijs.SignerInfo): SignerId {
  const sid = signer.sid as unknown
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return {
      kind: 'issuerSerial',
      issuer: Buffer.from(sid.issuer.valueBeforeDecode),
      serial: Buffer.from(sid.serialNumber.valueBlock.valueHexView),
    }
  }
  // [0] IMPLICIT SubjectKeyIdentifier (an OCTET STRING's content)
  if (sid instanceof asn1js.BaseBlock && sid.idBlock.tagClass === 3 && sid.idBlock.tagNumber === 0) {
    const view = (sid as asn1js.Primitive).valueBlock?.valueHexView
    if (view && view.byteLength > 0) return { kind: 'subjectKeyId', keyId: Buffer.from(view) }
  }
  throw bad('the SignerInfo does not identify its certificate')
}

/** Options for checking the one SignerInfo against a key chosen by the caller. */
export interface SignerCheck {
  /** Digest algorithms accepted (SHA-1 and MD5 are never accepted). */
  readonly digests: readonly DigestName[]
  /** When true, signed attributes must be present (content-type + message-digest). */
  readonly requireSignedAttrs: boolean
  /** Minimum RSA modulus length in bits. */
  readonly minRsaBits: number
}

/**
 * Verifies the SignerInfo with `publicKey`: accepted digest, signed attributes (content type id-data,
 * message digest equal to the content's), signature algorithm consistent with the key, signature valid.
 */
export function verifySignerInfo(parts: SignedDataParts, publicKey: KeyObject, check: SignerCheck): void {
  const digest = DIGESTS[parts.digestOid]
  if (!digest || !(check.digests as readonly string[]).includes(digest)) {
    throw bad(
      `digest algorithm ${digest ?? parts.digestOid} is not accepted (use ${check.digests.join(' or ')})`,
    )
  }
  const algorithm = SIGNATURES[parts.signatureOid]
  if (!algorithm || (algorithm.digest !== undefined && algorithm.digest !== digest)) {
    throw bad('unsupported or inconsistent signature algorithm in the SignerInfo')
  }
  if (publicKey.asymmetricKeyType !== algorithm.key)
    throw bad('the signature algorithm does not match the key')
  if (algorithm.key === 'rsa' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < check.minRsaBits) {
    throw bad(`the signing key is shorter than ${check.minRsaBits} bits`)
  }
  let signedBytes: Buffer
  if (parts.signedAttrs) {
    checkSignedAttributes(parts, digest)
    signedBytes = parts.signedAttrs
  } else if (check.requireSignedAttrs) {
    throw bad('the SignerInfo must carry signed attributes')
  } else signedBytes = parts.content
  const key = algorithm.key === 'ec' ? { key: publicKey, dsaEncoding: 'der' as const } : publicKey
  let valid = false
  try {
    valid = verifySignature(digest, signedBytes, key, parts.signature)
  } catch {
    valid = false
  }
  if (!valid) throw bad('the PKCS#7 signature does not verify')
}

function checkSignedAttributes(parts: SignedDataParts, digest: string): void {
  const seen = new Set<string>()
  for (const a of parts.attributes) {
    if (seen.has(a.type)) throw bad('a signed attribute is repeated')
    seen.add(a.type)
  }
  const contentType = single(parts, Oids.contentType)
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== Oids.data) {
    throw bad('the content-type signed attribute must be id-data')
  }
  const messageDigest = single(parts, Oids.messageDigest)
  if (!(messageDigest instanceof asn1js.OctetString) || messageDigest.idBlock.isConstructed) {
    throw bad('the message-digest signed attribute is malformed')
  }
  const claimed = Buffer.from(messageDigest.valueBlock.valueHexView)
  const actual = createHash(digest).update(parts.content).digest()
  if (claimed.length !== actual.length || !timingSafeEqual(claimed, actual)) {
    throw bad('the message digest does not match the signed content')
  }
}

function single(parts: SignedDataParts, type: string): asn1js.AsnType | undefined {
  const attribute = parts.attributes.find((a) => a.type === type)
  if (!attribute)
    throw bad(`the signed attributes lack ${type === Oids.contentType ? 'content-type' : 'message-digest'}`)
  if (attribute.values.length !== 1) throw bad('a signed attribute must have exactly one value')
  return attribute.values[0]
}

/**
 * The JSON document a SignedData carries (its eContent), checked against `schema`: strict UTF-8,
 * strict JSON, every field the verifier relies on. `what` names it in messages. Throws InvalidRequest.
 */
export function parseSignedDocument<S extends z.ZodType>(
  content: Uint8Array,
  schema: S,
  what: string,
): z.output<S> {
  const text = decodeUtf8(content)
  let json: unknown
  try {
    if (text === undefined) throw new InvalidRequest('not UTF-8')
    json = parseJsonStrict(text)
  } catch {
    throw new InvalidRequest(`${what} is not valid JSON (or repeats a member name)`)
  }
  const result = schema.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new InvalidRequest(`${what} lacks or mistypes ${issue?.path.join('.') || 'a field'}`)
  }
  return result.data
}

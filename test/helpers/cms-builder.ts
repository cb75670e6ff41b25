import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'

/** A generated certificate with its private key (real RSA keys, real X.509 DER). */
export interface TestCert {
  readonly cert: pkijs.Certificate
  readonly der: Buffer
  readonly pem: string
  readonly key: KeyObject
  readonly publicKey: KeyObject
}

const OID = {
  cn: '2.5.4.3',
  org: '2.5.4.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  rsaEncryption: '1.2.840.113549.1.1.1',
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
}
export const DIGEST_OIDS = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha1: '1.3.14.3.2.26',
  md5: '1.2.840.113549.2.5',
} as const

const keyPool: KeyObject[] = []
let nextKey = 0
/**
 * An RSA key pair. Pooled keys (six, handed out in turn) keep tests fast; pass `unique` wherever
 * a test depends on the key differing from every other certificate's (impostors, rogue signers).
 */
export function rsaKey(unique = false, bits = 2048): { privateKey: KeyObject; publicKey: KeyObject } {
  if (!unique && bits === 2048 && keyPool.length >= 6) {
    const privateKey = keyPool[nextKey++ % keyPool.length] as KeyObject
    return { privateKey, publicKey: createPublicKey(privateKey) }
  }
  const pair = generateKeyPairSync('rsa', { modulusLength: bits })
  if (!unique && bits === 2048) keyPool.push(pair.privateKey)
  return pair
}

function name(cn: string, org = 'Tessera Test'): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: OID.org, value: new asn1js.PrintableString({ value: org }) }),
      new pkijs.AttributeTypeAndValue({ type: OID.cn, value: new asn1js.Utf8String({ value: cn }) }),
    ],
  })
}

export interface CertOptions {
  readonly cn: string
  readonly issuer?: TestCert
  readonly ca?: boolean
  readonly serial?: Buffer
  readonly notBefore?: Date
  readonly notAfter?: Date
  /** Key-usage byte (0x80 digitalSignature, 0x04 keyCertSign); omitted = no extension. */
  readonly keyUsage?: number
  readonly keyPair?: { privateKey: KeyObject; publicKey: KeyObject }
  /** basicConstraints pathLenConstraint (CA certificates only). */
  readonly pathLen?: number
  /** extendedKeyUsage purposes (dotted OIDs); omitted = no extension. */
  readonly eku?: readonly string[]
  /** Adds a nameConstraints extension permitting this DNS subtree. */
  readonly permittedDns?: string
}

/** Creates a certificate (self-signed without `issuer`), signed with node:crypto sha256WithRSA. */
export function makeCert(opts: CertOptions): TestCert {
  const pair = opts.keyPair ?? rsaKey()
  const cert = new pkijs.Certificate()
  cert.version = 2
  const serial = opts.serial ?? Buffer.concat([Buffer.from([0x01]), randomBytes(8)])
  cert.serialNumber = new asn1js.Integer({ valueHex: serial })
  cert.subject = name(opts.cn)
  cert.issuer = opts.issuer ? opts.issuer.cert.subject : name(opts.cn)
  cert.notBefore.value = opts.notBefore ?? new Date('2020-01-01T00:00:00Z')
  cert.notAfter.value = opts.notAfter ?? new Date('2045-01-01T00:00:00Z')
  const spki = pair.publicKey.export({ format: 'der', type: 'spki' })
  cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(spki).result })
  const extensions: pkijs.Extension[] = [
    new pkijs.Extension({
      extnID: '2.5.29.14',
      critical: false,
      extnValue: new asn1js.OctetString({ valueHex: createHash('sha1').update(spki).digest() }).toBER(),
    }),
  ]
  if (opts.ca) {
    extensions.push(
      new pkijs.Extension({
        extnID: '2.5.29.19',
        critical: true,
        extnValue: new pkijs.BasicConstraints({
          cA: true,
          ...(opts.pathLen === undefined ? {} : { pathLenConstraint: opts.pathLen }),
        })
          .toSchema()
          .toBER(),
      }),
    )
  }
  if (opts.keyUsage !== undefined) {
    extensions.push(
      new pkijs.Extension({
        extnID: '2.5.29.15',
        critical: true,
        extnValue: new asn1js.BitString({
          valueHex: new Uint8Array([opts.keyUsage]).buffer,
          unusedBits: 1,
        }).toBER(),
      }),
    )
  }
  if (opts.eku !== undefined) {
    extensions.push(
      new pkijs.Extension({
        extnID: '2.5.29.37',
        critical: false,
        extnValue: new pkijs.ExtKeyUsage({ keyPurposes: [...opts.eku] }).toSchema().toBER(),
      }),
    )
  }
  if (opts.permittedDns !== undefined) {
    extensions.push(
      new pkijs.Extension({
        extnID: '2.5.29.30',
        critical: true,
        extnValue: new pkijs.NameConstraints({
          permittedSubtrees: [
            new pkijs.GeneralSubtree({ base: new pkijs.GeneralName({ type: 2, value: opts.permittedDns }) }),
          ],
        })
          .toSchema()
          .toBER(),
      }),
    )
  }
  cert.extensions = extensions
  const alg = () =>
    new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256WithRsa, algorithmParams: new asn1js.Null() })
  cert.signature = alg()
  cert.signatureAlgorithm = alg()
  const tbs = Buffer.from(cert.encodeTBS().toBER())
  cert.tbsView = new Uint8Array(tbs)
  const signer = opts.issuer?.key ?? pair.privateKey
  cert.signatureValue = new asn1js.BitString({ valueHex: sign('sha256', tbs, signer) })
  const der = Buffer.from(cert.toSchema(true).toBER())
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
  return { cert: pkijs.Certificate.fromBER(der), der, pem, key: pair.privateKey, publicKey: pair.publicKey }
}

export interface SignOptions {
  /** The encapsulated content; undefined = detached. */
  readonly content: Buffer | string | undefined
  /** Whose private key signs. */
  readonly signer: TestCert
  /** The certificate the SignerInfo names (default: signer). */
  readonly named?: TestCert
  /** Name it by subject key identifier instead of issuer + serial. */
  readonly bySubjectKeyId?: boolean
  /** Certificates carried in the blob (default: none). */
  readonly certificates?: readonly TestCert[]
  readonly digest?: keyof typeof DIGEST_OIDS
  /** false = no signed attributes (signature directly over the content). */
  readonly signedAttrs?: boolean
  readonly contentTypeAttr?: string
  readonly messageDigest?: Buffer
  readonly eContentType?: string
  /** Number of (identical) SignerInfos. */
  readonly signerInfos?: number
  /** Changes the signing-time attribute after signing (signature then no longer matches). */
  readonly tamperAttrsAfterSigning?: boolean
  readonly signatureAlgorithm?: string
  /** Digest used for the signature itself (default: `digest`). */
  readonly signHash?: string
}

/** Builds a DER CMS ContentInfo(SignedData), signing with node:crypto exactly as told. */
export function buildSignedData(opts: SignOptions): Buffer {
  const digest = opts.digest ?? 'sha256'
  const content = opts.content === undefined ? undefined : Buffer.from(opts.content)
  const named = opts.named ?? opts.signer
  const hash = opts.signHash ?? digest
  const attributes = [
    new pkijs.Attribute({
      type: OID.contentType,
      values: [new asn1js.ObjectIdentifier({ value: opts.contentTypeAttr ?? OID.data })],
    }),
    new pkijs.Attribute({
      type: OID.signingTime,
      values: [new asn1js.UTCTime({ valueDate: new Date('2026-01-01T00:00:00Z') })],
    }),
    new pkijs.Attribute({
      type: OID.messageDigest,
      values: [
        new asn1js.OctetString({
          valueHex:
            opts.messageDigest ??
            createHash(digest)
              .update(content ?? '')
              .digest(),
        }),
      ],
    }),
  ]
  const withAttrs = opts.signedAttrs !== false
  const signedBytes = withAttrs
    ? Buffer.from(new asn1js.Set({ value: attributes.map((a) => a.toSchema()) }).toBER())
    : (content ?? Buffer.alloc(0))
  const signature = sign(hash, signedBytes, opts.signer.key)
  if (opts.tamperAttrsAfterSigning) {
    attributes[1] = new pkijs.Attribute({
      type: OID.signingTime,
      values: [new asn1js.UTCTime({ valueDate: new Date('2026-01-02T00:00:00Z') })],
    })
  }
  const sid = opts.bySubjectKeyId
    ? new asn1js.Primitive({
        idBlock: { tagClass: 3, tagNumber: 0 },
        valueHex: createHash('sha1')
          .update(named.publicKey.export({ format: 'der', type: 'spki' }))
          .digest(),
      })
    : new pkijs.IssuerAndSerialNumber({ issuer: named.cert.issuer, serialNumber: named.cert.serialNumber })
  const algorithm = (id: string) =>
    new pkijs.AlgorithmIdentifier({ algorithmId: id, algorithmParams: new asn1js.Null() })
  const signerInfo = () =>
    new pkijs.SignerInfo({
      version: opts.bySubjectKeyId ? 3 : 1,
      sid,
      digestAlgorithm: algorithm(DIGEST_OIDS[digest]),
      ...(withAttrs ? { signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }) } : {}),
      signatureAlgorithm: algorithm(opts.signatureAlgorithm ?? OID.rsaEncryption),
      signature: new asn1js.OctetString({ valueHex: signature }),
    })
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [algorithm(DIGEST_OIDS[digest])],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: opts.eContentType ?? OID.data,
      ...(content ? { eContent: new asn1js.OctetString({ valueHex: content }) } : {}),
    }),
    ...(opts.certificates?.length ? { certificates: opts.certificates.map((c) => c.cert) } : {}),
    signerInfos: Array.from({ length: opts.signerInfos ?? 1 }, signerInfo),
  })
  const info = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) })
  return Buffer.from(info.toSchema().toBER())
}

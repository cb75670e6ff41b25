import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBase64Strict, parseSignedData, verifySignerInfo } from '../../lib/assertion/cms.js'
import { buildChain, isNamedBy, parseCertificate, parsePemCertificates } from '../../lib/assertion/x509.js'
import { InvalidRequest } from '../../lib/errors.js'
import { buildSignedData, makeCert, rsaKey } from '../helpers/cms-builder.js'

const signer = makeCert({ cn: 'signer', ca: true })
const check = { digests: ['sha256'] as const, requireSignedAttrs: true, minRsaBits: 2048 }

describe('cms', () => {
  it('parses and verifies a SignedData with signed attributes', () => {
    const parts = parseSignedData(buildSignedData({ content: 'hello', signer, certificates: [signer] }))
    expect(parts.content.toString()).toBe('hello')
    expect(parts.certificates).toHaveLength(1)
    expect(isNamedBy(parts.signerId, parseCertificate(signer.der))).toBe(true)
    expect(() => verifySignerInfo(parts, signer.publicKey, check)).not.toThrow()
  })

  it('verifies a signature directly over the content when attributes are optional', () => {
    const parts = parseSignedData(buildSignedData({ content: 'hello', signer, signedAttrs: false }))
    expect(() =>
      verifySignerInfo(parts, signer.publicKey, { ...check, requireSignedAttrs: false }),
    ).not.toThrow()
    expect(() => verifySignerInfo(parts, signer.publicKey, check)).toThrow(/signed attributes/)
  })

  it('refuses a short RSA key, a mismatched signature algorithm and a wrong key', () => {
    const weak = makeCert({ cn: 'weak', keyPair: rsaKey(true, 1024) })
    const weakParts = parseSignedData(buildSignedData({ content: 'x', signer: weak }))
    expect(() => verifySignerInfo(weakParts, weak.publicKey, check)).toThrow(/2048/)
    const sha384Alg = parseSignedData(
      buildSignedData({ content: 'x', signer, signatureAlgorithm: '1.2.840.113549.1.1.12' }),
    )
    expect(() => verifySignerInfo(sha384Alg, signer.publicKey, check)).toThrow(/inconsistent/)
    const parts = parseSignedData(buildSignedData({ content: 'x', signer }))
    expect(() => verifySignerInfo(parts, rsaKey(true).publicKey, check)).toThrow(/does not verify/)
  })

  it('refuses MD5 and an eContentType other than id-data', () => {
    const md5 = parseSignedData(buildSignedData({ content: 'x', signer, digest: 'md5' }))
    expect(() => verifySignerInfo(md5, signer.publicKey, check)).toThrow(/md5/)
    expect(() =>
      parseSignedData(buildSignedData({ content: 'x', signer, eContentType: '1.2.840.113549.1.7.2' })),
    ).toThrow(/id-data/)
  })

  it('throws only InvalidRequest on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          parseSignedData(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidRequest)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('decodes only canonical standard base64 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64')
        expect(decodeBase64Strict(text, 't').equals(Buffer.from(bytes))).toBe(true)
      }),
    )
    for (const bad of ['', 'abc', 'ab=c', 'YQ', 'YR==', 'a-b_', 'YQ==\n']) {
      expect(() => decodeBase64Strict(bad, 't')).toThrow(InvalidRequest)
    }
  })
})

describe('x509 chain', () => {
  const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06 })
  const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root })
  const leaf = makeCert({ cn: 'leaf', issuer: mid, keyUsage: 0x80 })
  const now = Date.parse('2030-01-01T00:00:00Z')
  const p = (c: { der: Buffer }) => parseCertificate(c.der)

  it('builds leaf -> intermediate -> root', () => {
    expect(buildChain(p(leaf), [p(mid)], [p(root)], now)?.map((c) => c.commonNames[0])).toEqual([
      'leaf',
      'mid',
      'root',
    ])
  })

  it('finds no chain without the intermediate, after expiry, or before validity', () => {
    expect(buildChain(p(leaf), [], [p(root)], now)).toBeUndefined()
    expect(buildChain(p(leaf), [p(mid)], [p(root)], Date.parse('2046-01-01T00:00:00Z'))).toBeUndefined()
    expect(buildChain(p(leaf), [p(mid)], [p(root)], Date.parse('2019-01-01T00:00:00Z'))).toBeUndefined()
  })

  it('refuses a same-named impostor root', () => {
    const impostor = makeCert({ cn: 'root', ca: true, keyUsage: 0x06, keyPair: rsaKey(true) })
    expect(buildChain(p(leaf), [p(mid)], [p(impostor)], now)).toBeUndefined()
  })

  it('parses PEM bundles and refuses non-PEM text', () => {
    expect(parsePemCertificates(root.pem + mid.pem)).toHaveLength(2)
    expect(() => parsePemCertificates('nothing here')).toThrow()
    expect(() => parseCertificate(Buffer.from('3003020101', 'hex'))).toThrow()
  })
})

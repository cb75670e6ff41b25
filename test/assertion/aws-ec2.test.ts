import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAwsEc2Verifier } from '../../lib/assertion/aws-ec2.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { BrokerError, InvalidRequest } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { buildSignedData, makeCert, rsaKey } from '../helpers/cms-builder.js'
import {
  ACCOUNT,
  document,
  ec2Token,
  harness,
  INSTANCE,
  input,
  NOW,
  nonce,
  pinned,
  providerConfig,
} from './aws-ec2-fixture.js'

const table = () => new MemoryTable(() => Math.floor(NOW / 1000))

async function refused(token: string, pattern?: RegExp): Promise<InvalidRequest> {
  const h = harness(table())
  const err = await h.verifier.verify(input(token, { token: nonce() })).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(InvalidRequest)
  expect((err as BrokerError).status).toBe(400)
  if (pattern) expect((err as Error).message).toMatch(pattern)
  return err as InvalidRequest
}

describe('aws-ec2 verifier: the signed document', () => {
  it('accepts a document signed by the pinned certificate and exposes its claims', async () => {
    const h = harness(table())
    const subject = await h.verifier.verify(input(ec2Token(), { token: nonce() }))
    expect(subject.sub).toBe(INSTANCE)
    expect(subject.provider).toBe('ec2-fleet')
    expect(subject.claims).toMatchObject({
      instance_id: INSTANCE,
      account_id: ACCOUNT,
      region: 'us-east-1',
      availability_zone: 'us-east-1a',
      image_id: 'ami-0abcdef1234567890',
      instance_type: 't3.micro',
      architecture: 'x86_64',
      private_ip: '10.0.1.23',
    })
    expect(typeof subject.claims.pending_time).toBe('string')
    expect(subject.tokenHash).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('accepts the pinned certificate named by subject key identifier too', async () => {
    const h = harness(table())
    const subject = await h.verifier.verify(
      input(ec2Token(document(), { bySubjectKeyId: true }), { token: nonce() }),
    )
    expect(subject.sub).toBe(INSTANCE)
  })

  it('refuses one byte of the document changed', async () => {
    const der = Buffer.from(ec2Token(), 'base64')
    const at = der.indexOf(Buffer.from('t3.micro'))
    der[at] = 'T'.charCodeAt(0)
    await refused(der.toString('base64'), /message digest/)
  })

  it('refuses a signed attribute changed after signing', async () => {
    await refused(ec2Token(document(), { tamperAttrsAfterSigning: true }), /signature does not verify/)
  })

  it('refuses a message digest that does not match the content', async () => {
    await refused(ec2Token(document(), { messageDigest: randomBytes(32) }), /message digest/)
  })

  it('refuses SHA-1 and names rsa2048', async () => {
    await refused(ec2Token(document(), { digest: 'sha1' }), /rsa2048/)
  })

  it('refuses SHA-384 (SHA-256 only)', async () => {
    await refused(ec2Token(document(), { digest: 'sha384' }), /sha256/)
  })

  it('refuses a /pkcs7-style input (PEM armour) naming rsa2048', async () => {
    const pem = `-----BEGIN PKCS7-----\n${ec2Token()}\n-----END PKCS7-----`
    await refused(pem, /rsa2048/)
  })

  it('refuses a /signature-style input (bare RSA-1024 signature) naming rsa2048', async () => {
    await refused(randomBytes(128).toString('base64'), /rsa2048/)
  })

  it('refuses the plain JSON document naming rsa2048', async () => {
    await refused(JSON.stringify(document()), /rsa2048/)
  })

  it('refuses a signer that chains to the pinned certificate but is not it', async () => {
    const ca = makeCert({ cn: 'Pinned CA', ca: true })
    const leaf = makeCert({ cn: 'leaf', issuer: ca })
    const h = harness(table(), { certificates: { 'us-east-1': ca.pem } })
    const token = ec2Token(document(), { signer: leaf, certificates: [leaf, ca] })
    const err = await h.verifier.verify(input(token, { token: nonce() })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as Error).message).toMatch(/not signed by a pinned/)
  })

  it('refuses a blob that carries and names the pinned certificate but is signed by another key', async () => {
    const impostor = makeCert({ cn: 'impostor', ca: true, keyPair: rsaKey(true) })
    await refused(
      ec2Token(document(), { signer: impostor, named: pinned, certificates: [pinned] }),
      /does not verify/,
    )
  })

  it('ignores certificates carried in the blob (a self-made cert with the pinned name and serial)', async () => {
    const forged = makeCert({
      cn: 'Amazon Web Services LLC (test us-east-1)',
      ca: true,
      serial: pinned.cert.serialNumber.valueBlock.valueHexView as unknown as Buffer,
    })
    await refused(
      ec2Token(document(), { signer: forged, certificates: [forged] }),
      /not signed by a pinned|does not verify/,
    )
  })

  it('refuses two SignerInfos', async () => {
    await refused(ec2Token(document(), { signerInfos: 2 }), /exactly one SignerInfo/)
  })

  it('refuses detached content', async () => {
    await refused(ec2Token(document(), { content: undefined }), /detached/)
  })

  it('refuses signed attributes that are absent', async () => {
    await refused(ec2Token(document(), { signedAttrs: false }), /signed attributes/)
  })

  it('refuses a content-type attribute other than id-data', async () => {
    await refused(ec2Token(document(), { contentTypeAttr: '1.2.840.113549.1.7.2' }), /id-data/)
  })

  it('refuses a document whose region differs from the certificate region', async () => {
    await refused(ec2Token(document({ region: 'us-west-2' })), /region/)
  })

  it('refuses an account that no provider allows', async () => {
    await refused(ec2Token(document({ accountId: '999988887777' })), /account is not allowed/)
  })

  it('refuses a document JSON with duplicate keys', async () => {
    const text = JSON.stringify(document()).replace('{', `{"instanceId":"i-0aaaaaaaaaaaaaaaa",`)
    await refused(ec2Token(text), /repeats a member name|not valid JSON/)
  })

  it('refuses a document with a mistyped field', async () => {
    await refused(ec2Token(document({ accountId: 111122223333 })), /accountId/)
  })

  it('refuses truncated, garbage, empty and oversized input', async () => {
    const token = ec2Token()
    await refused(token.slice(0, Math.floor(token.length / 2) - (Math.floor(token.length / 2) % 4)))
    await refused('bm90IGEgUEtDUyM3IGJsb2I=')
    await refused('!!!!')
    await refused('', /empty/)
    await refused('A'.repeat(20_000), /too large/)
  })

  it('refuses trailing bytes after the DER', async () => {
    await refused(Buffer.concat([Buffer.from(ec2Token(), 'base64'), Buffer.from([0])]).toString('base64'))
  })

  it('never throws anything but a BrokerError on random bytes (property)', async () => {
    const h = harness(table())
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 600 }), async (bytes) => {
        const err = await h.verifier
          .verify(input(Buffer.from(bytes).toString('base64'), { token: nonce() }))
          .catch((e: unknown) => e)
        expect(err).toBeInstanceOf(BrokerError)
        expect((err as BrokerError).status).toBe(400)
      }),
      { numRuns: 150 },
    )
  })

  it('never accepts a single-byte mutation of a valid token (property)', async () => {
    const der = Buffer.from(ec2Token(), 'base64')
    const h = harness(table())
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const copy = Buffer.from(der)
        copy[at] = (copy[at] as number) ^ xor
        const result = await h.verifier.verify(input(copy.toString('base64'), { token: nonce() })).then(
          (s) => s,
          (e: unknown) => e,
        )
        // A mutation in unsigned, ignored parts (blob certificates, unused bits) may still verify the
        // same document; it must then carry exactly the genuine identity.
        if (!(result instanceof BrokerError)) expect((result as { sub: string }).sub).toBe(INSTANCE)
      }),
      { numRuns: 60 },
    )
  })

  it('refuses a provider whose configured certificate is not PEM at construction', () => {
    const audit = new MemoryAuditSink()
    expect(() =>
      createAwsEc2Verifier([providerConfig({ certificates: { 'us-east-1': 'nope' } })], {
        table: table(),
        audit,
        now: () => NOW,
      }),
    ).toThrow(/not a PEM certificate/)
  })

  it('refuses requireCallerIdentity without an aws-iam verifier at construction', () => {
    const audit = new MemoryAuditSink()
    expect(() =>
      createAwsEc2Verifier([providerConfig({ binding: { requireCallerIdentity: true } })], {
        table: table(),
        audit,
        now: () => NOW,
      }),
    ).toThrow(/aws-iam/)
  })

  it('ships parseable RSA-2048 AWS certificates for the main regions', async () => {
    const { AWS_RSA2048_CERTIFICATES } = await import('../../lib/assertion/aws-certificates.js')
    const { parsePemCertificates } = await import('../../lib/assertion/x509.js')
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-northeast-1']) {
      const pem = AWS_RSA2048_CERTIFICATES[region]
      expect(pem).toBeDefined()
      const [cert] = parsePemCertificates(pem as string)
      expect(cert?.x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
      expect(cert?.x509.verify(cert.x509.publicKey)).toBe(true)
    }
    expect(buildSignedData).toBeDefined()
  })
})

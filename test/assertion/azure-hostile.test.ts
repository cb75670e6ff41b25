import { generateKeyPairSync } from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { describe, expect, it } from 'vitest'
import { createAzureImdsVerifier } from '../../lib/assertion/azure-imds.js'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { AzureImdsProviderSchema } from '../../lib/config/providers/azure-imds.js'
import { InvalidRequest } from '../../lib/errors.js'
import { FormParams } from '../../lib/http/form.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { buildSignedData, makeCert, type TestCert } from '../helpers/cms-builder.js'

// Hostile blobs an unauthenticated caller can send: they must end in a 400, never a 500 or a hang.
const root = makeCert({ cn: 'Operator Root', ca: true, keyUsage: 0x06 })
const config = AzureImdsProviderSchema.parse({
  name: 'az',
  kind: 'azure-imds',
  subscriptions: ['s'],
  roots: [root.pem],
})
const verifier = createAzureImdsVerifier([config], {
  table: new MemoryTable(),
  audit: new MemoryAuditSink(),
  now: () => Date.now(),
})
const verify = (blob: Buffer) =>
  verifier.verify({
    subjectToken: blob.toString('base64'),
    subjectTokenType: TokenTypes.azureAttested,
    params: new FormParams(new Map()),
    requestId: 'r',
    sourceIp: '192.0.2.1',
    now: Date.now(),
  })

function withBrokenKey(good: TestCert, variant: 'garbage-rsa' | 'unknown-oid'): TestCert {
  const cert = pkijs.Certificate.fromBER(good.der)
  if (variant === 'garbage-rsa') {
    cert.subjectPublicKeyInfo.subjectPublicKey = new asn1js.BitString({
      valueHex: new Uint8Array([1, 2, 3, 4]).buffer,
    })
  } else {
    cert.subjectPublicKeyInfo.algorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.3.4.5' })
  }
  const der = Buffer.from(cert.toSchema(true).toBER())
  return { ...good, cert: pkijs.Certificate.fromBER(der), der }
}

describe('azure-imds: hostile certificates', () => {
  it.each(['garbage-rsa', 'unknown-oid'] as const)(
    'a signer certificate whose key cannot be decoded (%s) is a 400',
    async (variant) => {
      const good = makeCert({ cn: 'metadata.azure.com', issuer: root, keyUsage: 0x80 })
      const bad = withBrokenKey(good, variant)
      const blob = buildSignedData({ content: '{}', signer: good, named: bad, certificates: [bad] })
      await expect(verify(blob)).rejects.toBeInstanceOf(InvalidRequest)
    },
  )

  it('a blob of 22 look-alike CAs that all sign each other does not make chain building exponential', async () => {
    // Before the bound this took ~37 s of synchronous CPU: with it, the test's own timeout is never near.
    const key = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const cas = Array.from({ length: 22 }, () => makeCert({ cn: 'x', ca: true, keyPair: key }))
    const leaf = makeCert({ cn: 'metadata.azure.com', issuer: cas[0] as TestCert })
    const blob = buildSignedData({ content: '{}', signer: leaf, certificates: [leaf, ...cas] })
    await expect(verify(blob)).rejects.toBeInstanceOf(InvalidRequest)
  }, 10_000)
})

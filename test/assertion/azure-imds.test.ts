import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createAzureImdsVerifier, parseAzureTime } from '../../lib/assertion/azure-imds.js'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { AssertionInput } from '../../lib/assertion/types.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { AzureImdsProviderSchema } from '../../lib/config/providers/azure-imds.js'
import { InvalidRequest } from '../../lib/errors.js'
import { FormParams } from '../../lib/http/form.js'
import { createNonceService } from '../../lib/instance/nonce.js'
import { buildSignedData, makeCert, rsaKey, type SignOptions } from '../helpers/cms-builder.js'
import { storeKinds } from '../instance/stores.js'

const NOW = Date.parse('2026-03-01T12:00:00Z')
const SUB = '8d10da9d-0000-4000-8000-00000000abcd'
const VM = '02aab8a4-74ef-476e-8182-f6d2ba4166a6'

const root = makeCert({ cn: 'Test Azure Root', ca: true, keyUsage: 0x06 })
const intermediate = makeCert({ cn: 'Test Azure TLS Issuing CA', ca: true, keyUsage: 0x06, issuer: root })
const leaf = makeCert({
  cn: 'metadata.azure.com',
  issuer: intermediate,
  keyUsage: 0x80,
  keyPair: rsaKey(true),
})

const azureTime = (ms: number) => {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} -0000`
}

function attested(nonce: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    licenseType: 'Windows_Server',
    nonce,
    plan: { name: 'planA', product: 'prod', publisher: 'pub' },
    timeStamp: { createdOn: azureTime(NOW - 60_000), expiresOn: azureTime(NOW + 6 * 3600_000) },
    vmId: VM,
    subscriptionId: SUB,
    sku: '2019-Datacenter',
    ...over,
  }
}

function token(doc: Record<string, unknown> | string, opts: Partial<SignOptions> = {}): string {
  const content = typeof doc === 'string' ? doc : JSON.stringify(doc)
  return buildSignedData({ content, signer: leaf, certificates: [leaf], ...opts }).toString('base64')
}

function input(subjectToken: string): AssertionInput {
  return {
    subjectToken,
    subjectTokenType: TokenTypes.azureAttested,
    params: new FormParams(new Map()),
    requestId: 'req-az',
    sourceIp: '127.0.0.1',
    now: NOW,
  }
}

describe.each(storeKinds())('azure-imds verifier on $name', (store) => {
  function setup(extra: Record<string, unknown> = {}) {
    const clock = { now: NOW }
    const table = store.open(() => clock.now)
    const config = AzureImdsProviderSchema.parse({
      name: 'azure-vms',
      kind: 'azure-imds',
      subscriptions: [SUB],
      roots: [root.pem],
      intermediates: [intermediate.pem],
      ...extra,
    })
    const verifier = createAzureImdsVerifier([config], {
      table,
      audit: new MemoryAuditSink(),
      now: () => clock.now,
    })
    const nonces = createNonceService(table, { rateLimitPerMinute: 1000, now: () => clock.now })
    const issue = async () => (await nonces.issue(`ip-${randomBytes(4).toString('hex')}`)).nonce
    return { clock, verifier, issue }
  }

  async function refused(t: string, s: ReturnType<typeof setup>, pattern?: RegExp) {
    const err = await s.verifier.verify(input(t)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    if (pattern) expect((err as Error).message).toMatch(pattern)
  }

  it('accepts a signer chaining to the configured root over a Tessera nonce, once', async () => {
    const s = setup()
    const t = token(attested(await s.issue()))
    const subject = await s.verifier.verify(input(t))
    expect(subject).toMatchObject({ provider: 'azure-vms', kind: 'azure-imds', sub: VM })
    expect(subject.claims).toMatchObject({
      vm_id: VM,
      subscription_id: SUB,
      sku: '2019-Datacenter',
      plan: 'planA',
      license_type: 'Windows_Server',
    })
    await refused(t, s, /already used|not issued/)
  })

  it('accepts intermediates carried in the blob when none are configured', async () => {
    const s = setup({ intermediates: undefined })
    await expect(
      s.verifier.verify(input(token(attested(await s.issue()), { certificates: [leaf, intermediate] }))),
    ).resolves.toBeDefined()
  })

  it('refuses a nonce not issued here', async () => {
    await refused(token(attested('0123456789')), setup(), /not issued/)
  })

  it('refuses an expired nonce', async () => {
    const s = setup()
    const n = await s.issue()
    s.clock.now += 301_000
    await refused(
      token(
        attested(n, {
          timeStamp: {
            createdOn: azureTime(s.clock.now - 1000),
            expiresOn: azureTime(s.clock.now + 3600_000),
          },
        }),
      ),
      s,
      /expired|not issued/,
    )
  })

  it('refuses a document whose expiresOn has passed', async () => {
    const s = setup()
    await refused(
      token(
        attested(await s.issue(), {
          timeStamp: { createdOn: azureTime(NOW - 7200_000), expiresOn: azureTime(NOW - 3600_000) },
        }),
      ),
      s,
      /expired/,
    )
  })

  it('refuses a document created in the future', async () => {
    const s = setup()
    await refused(
      token(
        attested(await s.issue(), {
          timeStamp: { createdOn: azureTime(NOW + 600_000), expiresOn: azureTime(NOW + 7200_000) },
        }),
      ),
      s,
      /future/,
    )
  })

  it('refuses when the SignerInfo names a certificate other than the first one in the blob', async () => {
    const s = setup()
    const rogue = makeCert({ cn: 'metadata.azure.com', ca: false, keyPair: rsaKey(true) })
    await refused(
      token(attested(await s.issue()), { signer: rogue, certificates: [leaf, rogue] }),
      s,
      /signer is not/,
    )
  })

  it('refuses a blob whose SignerInfo names the genuine leaf but is signed by another key', async () => {
    const s = setup()
    const rogue = makeCert({ cn: 'metadata.azure.com', keyPair: rsaKey(true) })
    await refused(
      token(attested(await s.issue()), { signer: rogue, named: leaf, certificates: [leaf] }),
      s,
      /does not verify/,
    )
  })

  it('refuses a SignerInfo naming a certificate the blob does not carry', async () => {
    const s = setup()
    await refused(
      token(attested(await s.issue()), { certificates: [intermediate] }),
      s,
      /exactly the certificate/,
    )
  })

  it('refuses a wrong subject name, and accepts it once listed in signerNames', async () => {
    const other = makeCert({ cn: 'metadata.evil.example', issuer: intermediate, keyUsage: 0x80 })
    const s = setup()
    await refused(
      token(attested(await s.issue()), { signer: other, certificates: [other] }),
      s,
      /signer name/,
    )
    const sovereign = setup({ signerNames: ['metadata.evil.example'] })
    await expect(
      sovereign.verifier.verify(
        input(token(attested(await sovereign.issue()), { signer: other, certificates: [other] })),
      ),
    ).resolves.toBeDefined()
  })

  it('refuses a chain to an untrusted root, and the shipped Microsoft roots do not trust test certificates', async () => {
    const otherRoot = makeCert({ cn: 'Other Root', ca: true, keyUsage: 0x06, keyPair: rsaKey(true) })
    const s = setup({ roots: [otherRoot.pem] })
    await refused(token(attested(await s.issue())), s, /trusted root/)
    const shipped = setup({ roots: undefined })
    await refused(token(attested(await shipped.issue())), shipped, /trusted root/)
  })

  it('refuses an expired signer certificate and a leaf that is not allowed to sign', async () => {
    const expired = makeCert({
      cn: 'metadata.azure.com',
      issuer: intermediate,
      notAfter: new Date(NOW - 1000),
    })
    const s = setup()
    await refused(
      token(attested(await s.issue()), { signer: expired, certificates: [expired] }),
      s,
      /currently valid/,
    )
    const noSign = makeCert({ cn: 'metadata.azure.com', issuer: intermediate, keyUsage: 0x04 })
    await refused(
      token(attested(await s.issue()), { signer: noSign, certificates: [noSign] }),
      s,
      /may not sign/,
    )
  })

  it('refuses an intermediate that is not a CA', async () => {
    const notCa = makeCert({ cn: 'Not a CA', issuer: root })
    const child = makeCert({ cn: 'metadata.azure.com', issuer: notCa, keyUsage: 0x80 })
    const s = setup({ intermediates: [notCa.pem] })
    await refused(
      token(attested(await s.issue()), { signer: child, certificates: [child] }),
      s,
      /trusted root/,
    )
  })

  it('refuses tampering: content byte, signed attribute, message digest, SHA-1, two signers, detached', async () => {
    const s = setup()
    const n = await s.issue()
    const der = Buffer.from(token(attested(n)), 'base64')
    der[der.indexOf(Buffer.from('Datacenter'))] = 0x64
    await refused(der.toString('base64'), s, /message digest/)
    await refused(token(attested(n), { tamperAttrsAfterSigning: true }), s, /does not verify/)
    await refused(token(attested(n), { messageDigest: randomBytes(32) }), s, /message digest/)
    await refused(token(attested(n), { digest: 'sha1' }), s, /digest algorithm sha1/)
    await refused(token(attested(n), { signerInfos: 2 }), s, /exactly one SignerInfo/)
    await refused(token(attested(n), { content: undefined }), s, /detached/)
    // None of those burnt the nonce.
    await expect(s.verifier.verify(input(token(attested(n))))).resolves.toBeDefined()
  })

  it('refuses a subscription that no provider allows, without consuming the nonce', async () => {
    const s = setup()
    const n = await s.issue()
    await refused(
      token(attested(n, { subscriptionId: 'ffffffff-0000-4000-8000-000000000000' })),
      s,
      /subscription/,
    )
    await expect(s.verifier.verify(input(token(attested(n))))).resolves.toBeDefined()
  })

  it('refuses duplicate JSON keys, mistyped fields, truncated, garbage, empty and oversized input', async () => {
    const s = setup()
    const n = await s.issue()
    await refused(
      token(JSON.stringify(attested(n)).replace('{', `{"vmId":"${VM}",`)),
      s,
      /repeats a member name/,
    )
    await refused(token(attested(n, { vmId: 42 })), s, /vmId/)
    await refused(token(attested(n, { nonce: 'abc' })), s, /nonce/)
    const t = token(attested(n))
    await refused(t.slice(0, 400), s)
    await refused('Z2FyYmFnZQ==', s)
    await refused('', s, /16 KiB/)
    await refused('A'.repeat(17_000), s, /16 KiB/)
  })
})

describe('parseAzureTime', () => {
  it('parses the IMDS format with offsets', () => {
    expect(parseAzureTime('03/01/26 12:00:00 -0000', 'x')).toBe(NOW)
    expect(parseAzureTime('03/01/26 13:00:00 +0100', 'x')).toBe(NOW)
  })

  it('refuses other formats and impossible dates', () => {
    for (const bad of [
      '2026-03-01T12:00:00Z',
      '02/30/26 12:00:00 -0000',
      '13/01/26 12:00:00 -0000',
      '03/01/26 24:00:00 -0000',
      '',
    ]) {
      expect(() => parseAzureTime(bad, 'x')).toThrow(InvalidRequest)
    }
  })
})

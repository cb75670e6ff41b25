import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import { instanceAssertion } from '../../lib/client/instance.js'
import { InstanceMetadataError } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { ec2Token, harness, input, NOW } from '../assertion/aws-ec2-fixture.js'
import { type FakeImds, startFakeImds } from '../fakes/imds.js'

let imds: FakeImds
let dir: string
const gcpJwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln'

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-client-'))
  imds = await startFakeImds({
    awsRsa2048: () => ec2Token(),
    azureSignature: (nonce) => Buffer.from(`signed:${nonce}`).toString('base64'),
    gcpIdentity: (audience) => (audience === 'https://sts.example.com' ? gcpJwt : 'wrong'),
    brokerNonce: () => '0123456789',
  })
})
afterAll(async () => {
  await imds.close()
})

describe('instanceAssertion', () => {
  it('AWS: IMDSv2 session, rsa2048 without line breaks, TOFU nonce in a 0600 file, verifiable end to end', async () => {
    const nonceFile = join(dir, 'sub', 'aws-nonce')
    const a = await instanceAssertion('aws', {
      brokerUrl: 'https://sts.example.com',
      imdsEndpoint: imds.endpoint,
      nonceFile,
    })
    expect(a.subjectTokenType).toBe(TokenTypes.awsEc2Rsa2048)
    expect(a.subjectToken).not.toMatch(/\s/)
    expect(a.actorTokenType).toBe(TokenTypes.instanceNonce)
    expect((await stat(nonceFile)).mode & 0o777).toBe(0o600)
    expect((await readFile(nonceFile, 'utf8')).trim()).toBe(a.actorToken)
    const again = await instanceAssertion('aws', { brokerUrl: 'x', imdsEndpoint: imds.endpoint, nonceFile })
    expect(again.actorToken).toBe(a.actorToken)
    const h = harness(new MemoryTable(() => Math.floor(NOW / 1000)))
    await expect(
      h.verifier.verify(input(a.subjectToken, { token: a.actorToken as string })),
    ).resolves.toBeDefined()
    expect(imds.requests).toContain('PUT /latest/api/token')
  })

  it('Azure: asks the broker for a nonce first, then the attested document with Metadata: true', async () => {
    const a = await instanceAssertion('azure', {
      brokerUrl: `${imds.endpoint}/`,
      imdsEndpoint: imds.endpoint,
    })
    expect(a).toEqual({
      subjectToken: Buffer.from('signed:0123456789').toString('base64'),
      subjectTokenType: TokenTypes.azureAttested,
    })
  })

  it('GCP: format=full identity token for the broker audience', async () => {
    const a = await instanceAssertion('gcp', {
      brokerUrl: 'https://sts.example.com',
      imdsEndpoint: imds.endpoint,
    })
    expect(a).toEqual({ subjectToken: gcpJwt, subjectTokenType: TokenTypes.jwt })
  })

  it('honours TESSERA_IMDS_ENDPOINT', async () => {
    process.env.TESSERA_IMDS_ENDPOINT = imds.endpoint
    try {
      await expect(instanceAssertion('gcp', { brokerUrl: 'https://sts.example.com' })).resolves.toBeDefined()
    } finally {
      delete process.env.TESSERA_IMDS_ENDPOINT
    }
  })

  it('fails clearly off-cloud (nothing listening)', async () => {
    const err = await instanceAssertion('gcp', { brokerUrl: 'x', imdsEndpoint: 'http://127.0.0.1:9' }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(InstanceMetadataError)
    expect((err as Error).message).toMatch(/cannot reach the gcp instance metadata service/)
  })

  it('gives up after 2 s when the metadata service hangs', async () => {
    imds.setFault('hang')
    try {
      const err = await instanceAssertion('aws', {
        brokerUrl: 'x',
        imdsEndpoint: imds.endpoint,
        nonceFile: join(dir, 'n2'),
      }).catch((e: unknown) => e)
      expect((err as Error).message).toMatch(/within 2 s/)
    } finally {
      imds.setFault('none')
    }
  })

  it('reports an HTTP error from the metadata service and a wrong GCP answer', async () => {
    await expect(
      instanceAssertion('gcp', { brokerUrl: 'x', audience: 'other', imdsEndpoint: imds.endpoint }),
    ).rejects.toThrow(/no identity token/)
    const bare = await startFakeImds({})
    try {
      await expect(
        instanceAssertion('azure', { brokerUrl: bare.endpoint, imdsEndpoint: bare.endpoint }),
      ).rejects.toThrow(/HTTP 404/)
    } finally {
      await bare.close()
    }
  })
})

describe('bounded reads', () => {
  it('stops reading an endless answer at 64 KiB (from the broker or the metadata service)', async () => {
    const { createServer } = await import('node:http')
    let sent = 0
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(16 * 1024, 0x20)
      const pump = () => {
        while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length
        if (sent < 64 * 1024 * 1024) res.once('drain', pump)
        else res.end()
      }
      pump()
    })
    await new Promise<void>((ok) => endless.listen(0, '127.0.0.1', ok))
    const url = `http://127.0.0.1:${(endless.address() as { port: number }).port}`
    try {
      await expect(instanceAssertion('azure', { brokerUrl: url, imdsEndpoint: url })).rejects.toThrow(
        /too large/,
      )
      expect(sent).toBeLessThan(64 * 1024 * 1024)
    } finally {
      endless.closeAllConnections()
      endless.close()
    }
  })
})

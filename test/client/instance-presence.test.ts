import { mkdtemp, readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsIamVerifier } from '../../lib/assertion/aws-iam.js'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { AssertionVerifier } from '../../lib/assertion/types.js'
import { requestExchange } from '../../lib/client/exchange.js'
import { instanceAssertion } from '../../lib/client/instance.js'
import { AwsIamProviderSchema } from '../../lib/config/providers/aws-iam.js'
import { InstanceMetadataError, InvalidRequest } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import {
  ACCOUNT,
  ec2Token,
  harness,
  INSTANCE,
  INSTANCE_PROFILE,
  input,
  NOW,
  OTHER_SESSION,
} from '../assertion/aws-ec2-fixture.js'
import { type FakeImds, imdsCredentials, startFakeImds } from '../fakes/imds.js'
import { type FakeSts, startFakeSts } from '../fakes/sts.js'

// Client side of the EC2 presence proof (docs/instance-identity.md): the instance-profile
// credentials come from the fake IMDS, the signed GetCallerIdentity is checked by the real
// aws-ec2 + aws-iam verifiers against the STS fake.

let imds: FakeImds
let sts: FakeSts
let dir: string
let served: { role: string; body: unknown } | undefined
const signingClock = () => new Date(NOW)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-presence-'))
  sts = await startFakeSts({ principals: [INSTANCE_PROFILE, OTHER_SESSION], now: () => NOW })
  imds = await startFakeImds({ awsRsa2048: () => ec2Token() })
})
afterAll(async () => {
  await imds.close()
  await sts.close()
})
beforeEach(() => {
  served = { role: 'fleet-role', body: imdsCredentials(INSTANCE_PROFILE) }
  sts.reset()
  imds.requests.length = 0
})

/** A fake IMDS whose instance profile is whatever `served` says at request time. */
async function withProfileImds<T>(work: (endpoint: string) => Promise<T>): Promise<T> {
  const fake = await startFakeImds({
    awsRsa2048: () => ec2Token(),
    awsInstanceProfile: {
      get role() {
        return served?.role ?? ''
      },
      body: () => served?.body,
    },
  })
  try {
    return await work(fake.endpoint)
  } finally {
    await fake.close()
  }
}

function assertion(endpoint: string, extra: Record<string, unknown> = {}) {
  return instanceAssertion('aws', {
    brokerUrl: 'https://sts.example.com',
    imdsEndpoint: endpoint,
    nonceFile: join(dir, 'nonce'),
    callerIdentity: true,
    region: 'us-east-1',
    now: signingClock,
    ...extra,
  })
}

function verifiers(): { ec2: AssertionVerifier } {
  const iam = createAwsIamVerifier(
    [AwsIamProviderSchema.parse({ name: 'ec2-fleet', kind: 'aws-iam', accounts: [ACCOUNT] })],
    { now: () => NOW, stsEndpoint: sts.endpoint },
  )
  const h = harness(
    new MemoryTable(() => Math.floor(NOW / 1000)),
    { binding: { requireCallerIdentity: true } },
    iam,
  )
  return { ec2: h.verifier }
}

/** A loopback "broker" token endpoint that records the form it receives. */
async function recordingBroker(): Promise<{ url: string; forms: URLSearchParams[]; server: Server }> {
  const forms: URLSearchParams[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      forms.push(new URLSearchParams(body))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"x"}')
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, forms, server }
}

describe('instanceAssertion(aws, { callerIdentity: true })', () => {
  it('sends a GetCallerIdentity signed with the instance-profile credentials as an aws-sigv4 actor token, the nonce as `nonce`', async () => {
    await withProfileImds(async (endpoint) => {
      const a = await assertion(endpoint, { serverId: 'tessera-e2e' })
      expect(a.subjectTokenType).toBe(TokenTypes.awsEc2Rsa2048)
      expect(a.actorTokenType).toBe(TokenTypes.awsSigv4)
      const nonce = (await readFile(join(dir, 'nonce'), 'utf8')).trim()
      expect(a.extra).toEqual({ nonce })
      const signed = JSON.parse(Buffer.from(a.actorToken as string, 'base64url').toString('utf8')) as {
        url: string
        headers: Record<string, string>
        body: string
      }
      expect(signed.url).toBe('https://sts.us-east-1.amazonaws.com/')
      expect(signed.body).toBe('Action=GetCallerIdentity&Version=2011-06-15')
      expect(signed.headers.authorization).toContain(`Credential=${INSTANCE_PROFILE.accessKeyId}/`)
      expect(signed.headers['x-amz-security-token']).toBe(INSTANCE_PROFILE.sessionToken)
      expect(signed.headers['x-tessera-server-id']).toBe('tessera-e2e')

      // What goes over the wire.
      const broker = await recordingBroker()
      try {
        await requestExchange(broker.url, { ...a, audiences: ['https://api.example.com'] })
        const form = broker.forms[0] as URLSearchParams
        expect(form.get('actor_token_type')).toBe(TokenTypes.awsSigv4)
        expect(form.get('actor_token')).toBe(a.actorToken)
        expect(form.get('nonce')).toBe(nonce)
      } finally {
        broker.server.close()
      }
    })
  })

  it('is what the aws-ec2 verifier with requireCallerIdentity accepts: role becomes a claim', async () => {
    await withProfileImds(async (endpoint) => {
      const a = await assertion(endpoint)
      const { ec2 } = verifiers()
      const subject = await ec2.verify(
        input(a.subjectToken, { token: a.actorToken as string, type: a.actorTokenType as string }, a.extra),
      )
      expect(subject.sub).toBe(INSTANCE)
      expect(subject.claims.role).toBe('fleet-role')
      expect(sts.count('GetCallerIdentity')).toBe(1)
      // The proof is single use, consumed before the binding is touched.
      await expect(
        ec2.verify(
          input(a.subjectToken, { token: a.actorToken as string, type: a.actorTokenType as string }, a.extra),
        ),
      ).rejects.toThrow(/presence proof \(actor_token\) has already been used/)
      expect(sts.count('GetCallerIdentity')).toBe(2)
    })
  })
})

describe('presence proof refusals', () => {
  const refused = async (extra: Record<string, unknown> = {}) =>
    withProfileImds((endpoint) => assertion(endpoint, extra).catch((e: unknown) => e))

  it('IMDS down (nothing listening): a clear off-cloud error', async () => {
    const err = await assertion('http://127.0.0.1:9').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InstanceMetadataError)
    expect((err as Error).message).toMatch(
      /cannot reach the aws instance metadata service.*is this running on aws/,
    )
  })

  it('no instance profile: says the presence proof needs one', async () => {
    const err = await assertion(imds.endpoint).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InstanceMetadataError)
    expect((err as Error).message).toMatch(/no instance profile.*--caller-identity/)
    expect(imds.requests).toContain('GET /latest/meta-data/iam/security-credentials/')
  })

  it('credentials IMDS reports as failed (Code != Success) are not used', async () => {
    served = { role: 'fleet-role', body: { ...imdsCredentials(INSTANCE_PROFILE), Code: 'Failure' } }
    const err = await refused()
    expect(err).toBeInstanceOf(InstanceMetadataError)
    expect((err as Error).message).toMatch(/no usable credentials for role fleet-role/)
  })

  it('malformed credentials JSON is refused', async () => {
    served = { role: 'fleet-role', body: { Code: 'Success', AccessKeyId: 'lower-case-key' } }
    expect(await refused()).toBeInstanceOf(InstanceMetadataError)
  })

  it('a role listing that is not a role name is refused (no path games)', async () => {
    served = { role: '../../dynamic', body: imdsCredentials(INSTANCE_PROFILE) }
    const err = await refused()
    expect((err as Error).message).toMatch(/named no instance-profile role/)
  })

  it('an invalid region is refused before signing', async () => {
    const err = await refused({ region: 'not a region' })
    expect((err as Error).message).toMatch(/not an AWS region/)
  })

  it('the presence proof is AWS only', async () => {
    const err = await instanceAssertion('azure', { brokerUrl: 'x', callerIdentity: true }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(InstanceMetadataError)
    expect((err as Error).message).toMatch(/only for AWS/)
  })

  it('credentials of a session not named after this instance: the verifier refuses the proof', async () => {
    served = { role: 'fleet-role', body: imdsCredentials(OTHER_SESSION) }
    const a = await withProfileImds((endpoint) => assertion(endpoint))
    const { ec2 } = verifiers()
    const err = await ec2
      .verify(
        input(a.subjectToken, { token: a.actorToken as string, type: a.actorTokenType as string }, a.extra),
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as Error).message).toMatch(/session named after the instance id/)
  })

  it('a server id signed into the proof is refused by the presence check (which configures none)', async () => {
    const a = await withProfileImds((endpoint) => assertion(endpoint, { serverId: 'tessera-prod' }))
    const err = await verifiers()
      .ec2.verify(
        input(a.subjectToken, { token: a.actorToken as string, type: a.actorTokenType as string }, a.extra),
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as Error).message).toMatch(/X-Tessera-Server-ID/)
    expect(sts.count()).toBe(0)
  })

  it('without --caller-identity (nonce as actor_token) a provider requiring the proof refuses', async () => {
    const a = await withProfileImds((endpoint) => assertion(endpoint, { callerIdentity: false }))
    expect(a.actorTokenType).toBe(TokenTypes.instanceNonce)
    const err = await verifiers()
      .ec2.verify(input(a.subjectToken, { token: a.actorToken as string }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as Error).message).toMatch(/requires a presence proof/)
    expect(sts.count()).toBe(0)
  })
})

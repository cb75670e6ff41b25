import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createStsForwarder } from '../../lib/assertion/sts-forward.js'
import { signedCallerIdentityToken } from '../../lib/client/aws-sigv4.js'
import { type FakeSts, LAMBDA_ROLE, startFakeSts, TESSERA_ROLE } from '../fakes/sts.js'

interface RequestJson {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

const AT = new Date(Math.floor(Date.now() / 1000) * 1000)
const lambdaCreds = async () => ({
  accessKeyId: LAMBDA_ROLE.accessKeyId,
  secretAccessKey: LAMBDA_ROLE.secretAccessKey,
  sessionToken: LAMBDA_ROLE.sessionToken as string,
})
const decode = (t: string): RequestJson =>
  JSON.parse(Buffer.from(t, 'base64url').toString('utf8')) as RequestJson

let fake: FakeSts
let send: ReturnType<typeof createStsForwarder>
beforeAll(async () => {
  fake = await startFakeSts()
  send = createStsForwarder({ endpoint: fake.endpoint, attemptTimeoutMs: 500, deadlineMs: 1500 })
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

/** Sends the decoded request as-is to the fake STS, whose HMAC verification is independent of the signer. */
const stsVerdict = async (r: RequestJson) => {
  const host = new URL(r.url).host
  const reply = await send({ host, headers: r.headers, body: r.body })
  return { status: reply.status, auth: fake.requests.at(-1)?.auth, body: reply.body }
}

describe('signedCallerIdentityToken', () => {
  it('produces base64url JSON {method, url, headers, body} that STS verifies', async () => {
    const token = await signedCallerIdentityToken({
      credentials: lambdaCreds,
      now: () => AT,
      region: 'eu-west-1',
    })
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    const r = decode(token)
    expect(Object.keys(r).sort()).toEqual(['body', 'headers', 'method', 'url'])
    expect(r).toMatchObject({
      method: 'POST',
      url: 'https://sts.eu-west-1.amazonaws.com/',
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    })
    expect(r.headers.host).toBe('sts.eu-west-1.amazonaws.com')
    expect(r.headers['x-amz-security-token']).toBe(LAMBDA_ROLE.sessionToken)
    expect(r.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${LAMBDA_ROLE.accessKeyId}/\\d{8}/eu-west-1/sts/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`,
      ),
    )
    const verdict = await stsVerdict(r)
    expect(verdict.auth).toBe('ok')
    expect(verdict.status).toBe(200)
    expect(verdict.body).toContain(LAMBDA_ROLE.arn)
  })

  it('signs X-Tessera-Server-ID when a server id is given', async () => {
    const r = decode(
      await signedCallerIdentityToken({ credentials: lambdaCreds, now: () => AT, serverId: 'tessera-prod' }),
    )
    expect(r.headers['x-tessera-server-id']).toBe('tessera-prod')
    expect(r.headers.authorization).toMatch(/SignedHeaders=[^,]*x-tessera-server-id/)
    expect((await stsVerdict(r)).auth).toBe('ok')
  })

  it('signs a fresh amz-sdk-invocation-id: two requests made at the same instant differ', async () => {
    const [a, b] = await Promise.all(
      [1, 2].map(() => signedCallerIdentityToken({ credentials: lambdaCreds, now: () => AT })),
    )
    const [ra, rb] = [decode(a as string), decode(b as string)]
    expect(ra.headers['x-amz-date']).toBe(rb.headers['x-amz-date'])
    expect(ra.headers['amz-sdk-invocation-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(ra.headers['amz-sdk-invocation-id']).not.toBe(rb.headers['amz-sdk-invocation-id'])
    expect(ra.headers.authorization).toMatch(/SignedHeaders=[^,]*amz-sdk-invocation-id/)
    expect(ra.headers.authorization).not.toBe(rb.headers.authorization)
    expect((await stsVerdict(ra)).auth).toBe('ok')
  })

  it('uses the region from the environment', async () => {
    const r = decode(await signedCallerIdentityToken({ credentials: lambdaCreds, now: () => AT }))
    expect(r.url).toBe(`https://sts.${process.env.AWS_REGION}.amazonaws.com/`)
  })

  it('uses the global endpoint, signed for us-east-1, when no region is configured', async () => {
    const saved = process.env.AWS_REGION
    delete process.env.AWS_REGION
    try {
      const r = decode(await signedCallerIdentityToken({ credentials: lambdaCreds, now: () => AT }))
      expect(r.url).toBe('https://sts.amazonaws.com/')
      expect(r.headers.authorization).toContain('/us-east-1/sts/aws4_request')
      expect((await stsVerdict(r)).auth).toBe('ok')
    } finally {
      process.env.AWS_REGION = saved
    }
  })

  it('uses the standard AWS credential chain when no credentials are given', async () => {
    const r = decode(await signedCallerIdentityToken({ now: () => AT }))
    expect(r.headers.authorization).toContain(`Credential=${TESSERA_ROLE.accessKeyId}/`)
    expect((await stsVerdict(r)).auth).toBe('ok')
  })

  it('is refused by STS when signed with the wrong secret', async () => {
    const wrong = async () => ({ ...(await lambdaCreds()), secretAccessKey: 'not-the-secret' })
    const verdict = await stsVerdict(
      decode(await signedCallerIdentityToken({ credentials: wrong, now: () => AT })),
    )
    expect(verdict.status).toBe(403)
    expect(verdict.auth).toBe('SignatureDoesNotMatch')
  })

  it('is refused by STS when the signed body is altered', async () => {
    const r = decode(await signedCallerIdentityToken({ credentials: lambdaCreds, now: () => AT }))
    expect((await stsVerdict({ ...r, body: 'Action=GetCallerIdentity&Version=2011-06-15&x=1' })).auth).toBe(
      'SignatureDoesNotMatch',
    )
  })

  it('refuses an invalid region name', async () => {
    await expect(
      signedCallerIdentityToken({ credentials: lambdaCreds, region: 'evil.com/x' }),
    ).rejects.toThrow(/region/)
  })

  it('refuses a server id with control characters', async () => {
    await expect(signedCallerIdentityToken({ credentials: lambdaCreds, serverId: 'a\r\nb' })).rejects.toThrow(
      /server id/,
    )
  })

  it('refuses an empty server id', async () => {
    await expect(signedCallerIdentityToken({ credentials: lambdaCreds, serverId: '' })).rejects.toThrow(
      /server id/,
    )
  })

  it('propagates a credential chain failure', async () => {
    const none = async () => {
      throw new Error('Could not load credentials from any providers')
    }
    await expect(signedCallerIdentityToken({ credentials: none })).rejects.toThrow(/credentials/)
  })
})

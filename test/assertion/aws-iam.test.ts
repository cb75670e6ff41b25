import { createHash } from 'node:crypto'
import type { LookupFunction } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsIamVerifier } from '../../lib/assertion/aws-iam.js'
import type { AwsIamProviderConfig } from '../../lib/config/providers/aws-iam.js'
import { InvalidRequest, TemporarilyUnavailable } from '../../lib/errors.js'
import { type FakeSts, IAM_USER, LAMBDA_ROLE, startFakeSts } from '../fakes/sts.js'
import {
  decodeToken,
  encodeToken,
  input,
  provider,
  signAs,
  T,
  tampered,
  verifierFor,
} from './aws-iam-fixture.js'

const signatureOf = (token: string) =>
  /Signature=([0-9a-f]{64})$/.exec(decodeToken(token).headers.authorization ?? '')?.[1]

let fake: FakeSts
beforeAll(async () => {
  fake = await startFakeSts()
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

const verifier = (providers?: AwsIamProviderConfig[]) => verifierFor(fake, providers)

describe('aws-iam verifier: accepted', () => {
  it('accepts a Lambda role signed request and derives the claims from STS', async () => {
    const token = await signAs(LAMBDA_ROLE, { region: 'global' })
    const subject = await verifier().verify(input(token))
    expect(subject).toEqual({
      provider: 'lambdas',
      kind: 'aws-iam',
      issuer: 'sts.amazonaws.com',
      sub: LAMBDA_ROLE.arn,
      claims: {
        sub: LAMBDA_ROLE.arn,
        arn: LAMBDA_ROLE.arn,
        account: '111122223333',
        principal_id: LAMBDA_ROLE.userId,
        role: 'orders-fn-role',
        session: 'orders-fn',
      },
      tokenHash: createHash('sha256').update(token).digest('base64url'),
      // replay: once by default; the key lives until the 5-minute X-Amz-Date window + tolerance + the replay margin closes.
      replay: { key: `aws-iam:${signatureOf(token)}`, expiresAt: T / 1000 + 301 + 30 + 60 },
    })
    expect(fake.count('GetCallerIdentity')).toBe(1)
    expect(fake.requests[0]?.auth).toBe('ok')
    expect(fake.requests[0]?.host).toBe('sts.amazonaws.com')
  })

  it('accepts a regional endpoint and names it as the issuer', async () => {
    const subject = await verifier().verify(input(await signAs(LAMBDA_ROLE, { region: 'eu-west-1' })))
    expect(subject.issuer).toBe('sts.eu-west-1.amazonaws.com')
    expect(fake.requests[0]?.host).toBe('sts.eu-west-1.amazonaws.com')
  })

  it('gives an IAM user a `user` claim and no role/session', async () => {
    const subject = await verifier([provider({ accounts: [IAM_USER.account] })]).verify(
      input(await signAs(IAM_USER)),
    )
    expect(subject.claims).toMatchObject({ user: 'alice', account: IAM_USER.account })
    expect(subject.claims).not.toHaveProperty('role')
  })

  it('accepts the configured signed X-Tessera-Server-ID', async () => {
    const subject = await verifier([provider({ serverIdHeader: 'tessera-prod' })]).verify(
      input(await signAs(LAMBDA_ROLE, { serverId: 'tessera-prod' })),
    )
    expect(subject.provider).toBe('lambdas')
    expect(fake.requests[0]?.headers['x-tessera-server-id']).toBe('tessera-prod')
  })

  it('picks the provider whose accounts contain the caller', async () => {
    const providers = [provider({ name: 'users', accounts: [IAM_USER.account] }), provider({ name: 'fns' })]
    expect((await verifier(providers).verify(input(await signAs(LAMBDA_ROLE)))).provider).toBe('fns')
  })
})

describe('aws-iam verifier: refused after STS answered', () => {
  it('refuses an account no provider allows', async () => {
    const err = await verifier()
      .verify(input(await signAs(IAM_USER)))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as Error).message).toMatch(/account is not allowed/)
    expect(fake.count()).toBe(1)
  })

  it('refuses a tampered signature: "signature rejected by STS"', async () => {
    const token = await tampered((r) => {
      r.headers.authorization = (r.headers.authorization as string).replace(/Signature=\w/, 'Signature=0')
    })
    await expect(verifier().verify(input(token))).rejects.toThrow(/signature rejected by STS/)
    expect(fake.requests[0]?.auth).toBe('SignatureDoesNotMatch')
  })

  it('refuses credentials STS does not know', async () => {
    const stranger = { ...IAM_USER, accessKeyId: 'AKIAUNKNOWN000000000' }
    await expect(verifier().verify(input(await signAs(stranger)))).rejects.toThrow(
      /signature rejected by STS/,
    )
  })

  it('refuses an expired session token', async () => {
    const expired = { ...LAMBDA_ROLE, accessKeyId: 'ASIATESTEXPIRED00001', expired: true }
    fake.addPrincipal(expired)
    await expect(verifier().verify(input(await signAs(expired)))).rejects.toThrow(/signature rejected by STS/)
  })

  it('refuses when the account matches only a provider with another server id', async () => {
    const providers = [
      provider({ name: 'a', accounts: ['000000000000'], serverIdHeader: 'x' }),
      provider({ serverIdHeader: 'y' }),
    ]
    await expect(
      verifier(providers).verify(input(await signAs(LAMBDA_ROLE, { serverId: 'x' }))),
    ).rejects.toThrow(/does not match the provider/)
  })
})

describe('aws-iam replay key', () => {
  it('replay: allow keeps no single-use key', async () => {
    const subject = await verifier([provider({ replay: 'allow' })]).verify(input(await signAs()))
    expect(subject.replay).toBeUndefined()
  })

  it('re-spelling the same signed request (header case, member order, unsigned user-agent) keeps the key', async () => {
    const token = await signAs()
    const { key } = (await verifier().verify(input(token))).replay ?? {}
    const r = decodeToken(token)
    const respelled = encodeToken({
      body: r.body,
      headers: {
        ...Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toUpperCase(), v])),
        'user-agent': 'replayer/1.0',
      },
      url: r.url,
      method: r.method,
    })
    expect(respelled).not.toBe(token)
    expect((await verifier().verify(input(respelled))).replay?.key).toBe(key)
  })

  it('the key is the signature of the request, so it differs for every signed request', async () => {
    const [a, b] = await Promise.all([signAs(), signAs()])
    const [x, y] = await Promise.all([verifier().verify(input(a)), verifier().verify(input(b))])
    expect(x.replay?.key).toMatch(/^aws-iam:[0-9a-f]{64}$/)
    expect(x.replay?.key).not.toBe(y.replay?.key)
  })

  it('a request signed 4 minutes ago keeps its key only until its window closes', async () => {
    const subject = await verifier().verify(input(await signAs(LAMBDA_ROLE, { at: T - 240_000 })))
    expect(subject.replay?.expiresAt).toBe((T - 240_000) / 1000 + 301 + 30 + 60)
  })
})

describe('aws-iam provider config', () => {
  it('replay defaults to once', () => {
    expect(provider().replay).toBe('once')
  })

  for (const bad of ['twice', 'ONCE', true, 1]) {
    it(`refuses replay ${JSON.stringify(bad)}`, () => {
      expect(() => provider({ replay: bad })).toThrow()
    })
  }

  for (const bad of ['a\nb', ' lead', 'trail ', 'ünicode', '']) {
    it(`refuses serverIdHeader ${JSON.stringify(bad)}`, () => {
      expect(() => provider({ serverIdHeader: bad })).toThrow()
    })
  }
})

describe('aws-iam verifier: STS outages', () => {
  it('retries a 500 and succeeds', async () => {
    fake.fail('500', { times: 1 })
    await expect(verifier().verify(input(await signAs()))).resolves.toMatchObject({ sub: LAMBDA_ROLE.arn })
    expect(fake.count()).toBe(2)
  })

  it('gives up after 3 attempts of persistent 500s with 503', async () => {
    fake.fail('500')
    await expect(verifier().verify(input(await signAs()))).rejects.toThrow(TemporarilyUnavailable)
    expect(fake.count()).toBe(3)
  })

  it('retries throttling and succeeds', async () => {
    fake.fail('Throttling', { times: 2 })
    await expect(verifier().verify(input(await signAs()))).resolves.toMatchObject({ sub: LAMBDA_ROLE.arn })
    expect(fake.count()).toBe(3)
  })

  it('gives up on persistent throttling with 503, not a 400', async () => {
    fake.fail('Throttling')
    await expect(verifier().verify(input(await signAs()))).rejects.toThrow(TemporarilyUnavailable)
    expect(fake.count()).toBe(3)
  })

  for (const fault of ['hang', 'garbage', 'huge'] as const) {
    it(`answers 503 when STS answers ${fault}`, async () => {
      fake.fail(fault)
      await expect(verifier().verify(input(await signAs()))).rejects.toThrow(TemporarilyUnavailable)
      expect(fake.count()).toBeLessThanOrEqual(3)
    })
  }

  describe('DNS', () => {
    /** A resolver that fails every lookup with `code`, counting calls (no real DNS in tests). */
    const failingLookup = (code: string) => {
      const calls: string[] = []
      const lookup = ((hostname: string, _opts: unknown, cb: (err: Error | null) => void) => {
        calls.push(hostname)
        cb(Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code }))
      }) as unknown as LookupFunction
      return { calls, lookup }
    }
    const direct = (lookup: LookupFunction) =>
      createAwsIamVerifier([provider()], {
        now: () => T,
        stsEndpoint: '', // the signed host itself, as in production
        forward: { attemptTimeoutMs: 200, deadlineMs: 1500, lookup },
      })

    it('a made-up region whose STS host does not resolve is 400 invalid_request at once, not a 503', async () => {
      const { calls, lookup } = failingLookup('ENOTFOUND')
      const err = await direct(lookup)
        .verify(input(await signAs(LAMBDA_ROLE, { region: 'zz-bogus-9' })))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidRequest)
      expect((err as Error).message).toMatch(/sts\.zz-bogus-9\.amazonaws\.com does not resolve/)
      expect(calls).toEqual(['sts.zz-bogus-9.amazonaws.com'])
    })

    it('the global endpoint not resolving is an outage (DNS down): 503 after bounded retries', async () => {
      const { calls, lookup } = failingLookup('ENOTFOUND')
      const err = await direct(lookup)
        .verify(input(await signAs(LAMBDA_ROLE, { region: 'global' })))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TemporarilyUnavailable)
      expect(calls.length).toBeGreaterThan(1)
      expect(calls.length).toBeLessThanOrEqual(3)
    })

    it('a transient resolver failure (EAI_AGAIN) on a regional host is an outage too: 503', async () => {
      const { lookup } = failingLookup('EAI_AGAIN')
      const err = await direct(lookup)
        .verify(input(await signAs(LAMBDA_ROLE, { region: 'eu-west-1' })))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TemporarilyUnavailable)
    })
  })

  it('answers 503 when STS is unreachable', async () => {
    const v = createAwsIamVerifier([provider()], {
      now: () => T,
      stsEndpoint: 'http://127.0.0.1:1',
      forward: { attemptTimeoutMs: 200, deadlineMs: 1500 },
    })
    await expect(v.verify(input(await signAs()))).rejects.toThrow(TemporarilyUnavailable)
  })
})

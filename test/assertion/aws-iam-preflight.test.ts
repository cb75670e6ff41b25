import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AwsIamProviderConfig } from '../../lib/config/providers/aws-iam.js'
import { InvalidRequest } from '../../lib/errors.js'
import { type FakeSts, LAMBDA_ROLE, startFakeSts } from '../fakes/sts.js'
import { encodeToken, input, provider, signAs, T, tampered, verifierFor } from './aws-iam-fixture.js'

/** Every check that must refuse a presented request BEFORE Tessera sends anything to STS. */

let fake: FakeSts
beforeAll(async () => {
  fake = await startFakeSts()
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

/** Asserts a 400 InvalidRequest and that STS was never contacted. */
async function refusedBeforeForward(token: string, message: RegExp, providers?: AwsIamProviderConfig[]) {
  const err = await verifierFor(fake, providers)
    .verify(input(token))
    .catch((e: unknown) => e)
  expect(err).toBeInstanceOf(InvalidRequest)
  expect((err as InvalidRequest).status).toBe(400)
  expect((err as Error).message).toMatch(message)
  expect(fake.count()).toBe(0)
}

describe('aws-iam verifier: refused before any request to STS', () => {
  const hosts = [
    'https://evil.com/',
    'https://sts.amazonaws.com.evil.com/',
    'https://evil.com/sts.amazonaws.com/',
    'http://sts.amazonaws.com/',
    'https://sts.amazonaws.com:443/',
    'https://sts.amazonaws.com:8443/',
    'https://sts.amazonaws.com/x',
    'https://sts.amazonaws.com/?Action=GetCallerIdentity',
    'https://sts.amazonaws.com/#frag',
    'https://user:pass@sts.amazonaws.com/',
    'https://STS.amazonaws.com/',
    'https://sts.amazonaws.com./',
    'https://sts.amazonaws.com',
    'https://sts.cn-north-1.amazonaws.com.cn/',
    'https://sts-fips.us-east-1.amazonaws.com/',
    'https://sts.169.254.169.254.amazonaws.com/',
    'https://127.0.0.1/',
  ]
  for (const url of hosts) {
    it(`refuses the URL ${url}`, async () => {
      await refusedBeforeForward(await tampered((r) => Object.assign(r, { url })), /must target/)
    })
  }

  it('refuses method GET', async () => {
    await refusedBeforeForward(await tampered((r) => Object.assign(r, { method: 'GET' })), /POST/)
  })

  const bodies = [
    'Action=AssumeRole&Version=2011-06-15',
    'Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x',
    'Version=2011-06-15&Action=GetCallerIdentity',
    'Action=GetCallerIdentity%26Version%3D2011-06-15',
    'Action=GetCallerIdentity&Version=2011-06-15&',
    'Action=GetCallerIdentity&Version=2011-06-15\n',
    Buffer.from('Action=GetCallerIdentity&Version=2011-06-15').toString('base64'),
  ]
  for (const body of bodies) {
    it(`refuses the body ${JSON.stringify(body)}`, async () => {
      await refusedBeforeForward(await tampered((r) => Object.assign(r, { body })), /body must be exactly/)
    })
  }

  it('refuses a stale X-Amz-Date (6 minutes old)', async () => {
    await refusedBeforeForward(await signAs(LAMBDA_ROLE, { at: T - 6 * 60_000 }), /5 minutes/)
  })

  it('refuses a future X-Amz-Date (6 minutes ahead)', async () => {
    await refusedBeforeForward(await signAs(LAMBDA_ROLE, { at: T + 6 * 60_000 }), /5 minutes/)
  })

  it('refuses an impossible X-Amz-Date', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers['x-amz-date'] = '20240230T000000Z'
      }),
      /valid date/,
    )
  })

  it('refuses a request without X-Tessera-Server-ID when the provider requires one', async () => {
    await refusedBeforeForward(await signAs(LAMBDA_ROLE), /must carry X-Tessera-Server-ID/, [
      provider({ serverIdHeader: 'tessera-prod' }),
    ])
  })

  it('refuses an X-Tessera-Server-ID that is present but unsigned', async () => {
    const token = await tampered((r) => {
      r.headers['x-tessera-server-id'] = 'tessera-prod'
    })
    await refusedBeforeForward(token, /must be signed/, [provider({ serverIdHeader: 'tessera-prod' })])
  })

  it('refuses a request signed for another server id (replay to another deployment)', async () => {
    const token = await signAs(LAMBDA_ROLE, { serverId: 'tessera-staging' })
    await refusedBeforeForward(token, /does not name this server/, [
      provider({ serverIdHeader: 'tessera-prod' }),
    ])
  })

  it('refuses a foreign server id even when no provider requires one', async () => {
    await refusedBeforeForward(
      await signAs(LAMBDA_ROLE, { serverId: 'someone-else' }),
      /does not name this server/,
    )
  })

  it('refuses a Host header that differs from the URL host', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers.host = 'evil.com'
      }),
      /Host header must equal/,
    )
  })

  it('refuses a request whose signature does not cover host', async () => {
    const token = await tampered((r) => {
      r.headers.authorization = (r.headers.authorization as string).replace(
        /(SignedHeaders=[^,]*)host;/,
        '$1',
      )
    })
    await refusedBeforeForward(token, /cover the host header/)
  })

  it('refuses duplicate header names (case-insensitive)', async () => {
    const token = await tampered((r) => {
      r.headers.Host = 'sts.amazonaws.com'
    })
    await refusedBeforeForward(token, /more than once/)
  })

  it('refuses a header outside the allowlist', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers.accept = 'application/json'
      }),
      /not allowed/,
    )
  })

  it('refuses a header value with CR/LF', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers['user-agent'] = 'x\r\nX-Injected: 1'
      }),
      /malformed value/,
    )
  })

  it('refuses a credential scope for another region than the host', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.url = 'https://sts.eu-west-1.amazonaws.com/'
        r.headers.host = 'sts.eu-west-1.amazonaws.com'
      }),
      /scope region must be eu-west-1/,
    )
  })

  it('refuses a non-sts credential scope service', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers.authorization = (r.headers.authorization as string).replace('/sts/', '/iam/')
      }),
      /service must be sts/,
    )
  })

  it('refuses a scope date that differs from X-Amz-Date', async () => {
    const token = await tampered((r) => {
      r.headers.authorization = (r.headers.authorization as string).replace(
        /Credential=(\w+)\/\d{8}/,
        'Credential=$1/20200101',
      )
    })
    await refusedBeforeForward(token, /scope date/)
  })

  it('refuses a missing Authorization header', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        delete r.headers.authorization
      }),
      /Authorization/,
    )
  })

  it('refuses a non-SigV4 Authorization header', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers.authorization = 'Bearer abc'
      }),
      /AWS4-HMAC-SHA256/,
    )
  })

  it('refuses a mismatched Content-Length', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers['content-length'] = '9999'
      }),
      /Content-Length/,
    )
  })

  it('refuses a foreign Content-Type', async () => {
    await refusedBeforeForward(
      await tampered((r) => {
        r.headers['content-type'] = 'application/json'
      }),
      /Content-Type/,
    )
  })

  it('refuses garbage, non-base64url and padded tokens', async () => {
    for (const token of ['not a token', 'abc+/', `${encodeToken({ a: 1 })}==`, '']) {
      await refusedBeforeForward(token, /base64url/)
    }
  })

  it('refuses an oversized token', async () => {
    await refusedBeforeForward('A'.repeat(20_000), /exceeds/)
  })

  it('refuses JSON with a duplicated member name', async () => {
    const good = await tampered(() => undefined)
    const text = Buffer.from(good, 'base64url')
      .toString('utf8')
      .replace('{"method":"POST"', '{"method":"POST","method":"POST"')
    await refusedBeforeForward(encodeToken(text), /repeated member names/)
  })

  it('refuses JSON of the wrong shape (extra member, non-string header, array)', async () => {
    const base = await tampered(() => undefined)
    const r = JSON.parse(Buffer.from(base, 'base64url').toString('utf8')) as Record<string, unknown>
    await refusedBeforeForward(encodeToken({ ...r, extra: 1 }), /JSON \{method/)
    await refusedBeforeForward(encodeToken({ ...r, headers: { host: 1 } }), /JSON \{method/)
    await refusedBeforeForward(encodeToken([r]), /JSON \{method/)
  })
})

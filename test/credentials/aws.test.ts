import { STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { VerifiedSubject } from '../../lib/assertion/types.js'
import { awsClientConfig } from '../../lib/aws/retry.js'
import { validateAwsGrant } from '../../lib/config/aws-grant.js'
import { type AwsGrant, AwsGrantSchema } from '../../lib/config/schema.js'
import {
  AWS_CREDENTIALS_TOKEN_TYPE,
  type AwsCredentialsResponse,
  clampDuration,
  createAwsMinter,
} from '../../lib/credentials/aws.js'
import { roleSessionName } from '../../lib/credentials/aws-session.js'
import type { MintContext, Minted } from '../../lib/credentials/minter.js'
import {
  DependencyThrottled,
  InvalidRequest,
  InvalidTarget,
  TemporarilyUnavailable,
} from '../../lib/errors.js'
import { type FakeSts, startFakeSts, TESSERA_ROLE } from '../fakes/sts.js'

const ROLE = 'arn:aws:iam::123456789012:role/deploy'
const CTX: MintContext = {
  policy: 'deploy-app',
  requestId: 'req-1',
  request: {
    subjectToken: 'unused',
    subjectTokenType: TokenTypes.jwt,
    audiences: [],
    resources: [],
    tokenType: TokenTypes.awsCredentials,
  },
  now: 0,
}

const subject: VerifiedSubject = {
  provider: 'github-actions',
  kind: 'oidc',
  issuer: 'https://token.actions.githubusercontent.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  claims: {
    sub: 'repo:acme/app:ref:refs/heads/main',
    repository: 'acme/app',
    repository_id: 987654,
    actor: 'octo-cat',
    ref: 'refs/heads/main',
    groups: ['a', 'b'],
  },
  tokenHash: 'aGFzaA',
}

const grant = (g: Record<string, unknown> = {}): AwsGrant & { kind: 'aws' } => ({
  kind: 'aws',
  ...AwsGrantSchema.parse({ roleArn: ROLE, ...g }),
})
/** The credentials body of a minted answer. */
const body = async (minted: Promise<Minted>) => (await minted).body as AwsCredentialsResponse

let fake: FakeSts
let client: STSClient
/** Per-attempt timeout short enough that the hang tests stay fast; attempts as in production. */
let quickClient: STSClient

beforeAll(async () => {
  fake = await startFakeSts()
  const base = {
    endpoint: fake.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: TESSERA_ROLE.accessKeyId, secretAccessKey: TESSERA_ROLE.secretAccessKey },
  }
  client = new STSClient({ ...awsClientConfig('sts'), ...base })
  quickClient = new STSClient({
    ...awsClientConfig('sts'),
    ...base,
    requestHandler: { requestTimeout: 150, connectionTimeout: 150, throwOnRequestTimeout: true },
  })
})
afterAll(async () => {
  client.destroy()
  quickClient.destroy()
  await fake.close()
})
beforeEach(() => fake.reset())

describe('createAwsMinter: what is sent to STS', () => {
  it('assumes the role and answers with the RFC 8693 AWS credentials body', async () => {
    const resp = await body(createAwsMinter({ client }).mint(grant({ duration: '1h' }), subject, CTX))
    expect(resp.issued_token_type).toBe(AWS_CREDENTIALS_TOKEN_TYPE)
    expect(resp.token_type).toBe('N_A')
    expect(resp.aws_access_key_id).toMatch(/^ASIA[A-Z0-9]{16}$/)
    expect(resp.access_token).toBe(resp.aws_session_token)
    expect(resp.aws_secret_access_key.length).toBeGreaterThan(10)
    expect(resp.expires_in).toBeGreaterThan(3590)
    expect(resp.expires_in).toBeLessThanOrEqual(3600)
    expect(new Date(resp.expiration).toISOString()).toBe(resp.expiration)
    expect(fake.requests[0]?.auth).toBe('ok')
  })

  it('sends RoleArn, session name, source identity, duration, tags and the minified policy', async () => {
    const g = grant({
      duration: '2h',
      sessionTags: { repo: '{{repository}}', repo_id: '{{repository_id}}', team: 'platform' },
      sessionPolicy:
        '{ "Version": "2012-10-17",\n  "Statement": [{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}] }',
    })
    await createAwsMinter({ client }).mint(g, subject, CTX)
    const [call] = fake.assumeRoleCalls()
    expect(call).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: roleSessionName(`github-actions:${subject.sub}`),
      SourceIdentity: roleSessionName(`github-actions:${subject.sub}`),
      DurationSeconds: '7200',
      'Tags.member.1.Key': 'repo',
      'Tags.member.1.Value': 'acme/app',
      'Tags.member.2.Key': 'repo_id',
      'Tags.member.2.Value': '987654',
      'Tags.member.3.Key': 'team',
      'Tags.member.3.Value': 'platform',
      Policy:
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}',
    })
    expect(call?.['Tags.member.4.Key']).toBeUndefined()
    expect(call?.RoleSessionName).toMatch(/^github-actions-repo-acme-app-ref-refs-[\w-]*=[\w-]{22}$/)
  })

  it('the same sub from two providers (two clusters) gets distinct session names and source identities', async () => {
    const sa = 'system:serviceaccount:prod:deployer'
    const minter = createAwsMinter({ client })
    await minter.mint(grant(), { ...subject, provider: 'cluster-a', sub: sa }, CTX)
    await minter.mint(grant(), { ...subject, provider: 'cluster-b', sub: sa }, CTX)
    const [a, b] = fake.assumeRoleCalls()
    expect(a?.RoleSessionName).not.toBe(b?.RoleSessionName)
    expect(a?.SourceIdentity).not.toBe(b?.SourceIdentity)
    expect(a?.RoleSessionName).toMatch(/^cluster-a-system-serviceaccount-prod-[\w-]*=[\w-]{22}$/)
  })

  it('sets SourceIdentity from its template, and a YAML-object session policy as minified JSON', async () => {
    const g = grant({ sourceIdentity: '{{actor}}', sessionPolicy: { Version: '2012-10-17', Statement: [] } })
    await createAwsMinter({ client }).mint(g, subject, CTX)
    const [call] = fake.assumeRoleCalls()
    expect(call?.SourceIdentity).toBe('octo-cat')
    expect(call?.Policy).toBe('{"Version":"2012-10-17","Statement":[]}')
    expect(call?.DurationSeconds).toBe('900')
  })

  it('builds its own STS client that honours AWS_ENDPOINT_URL_STS and the default credential chain', async () => {
    process.env.AWS_ENDPOINT_URL_STS = fake.endpoint
    try {
      const resp = await body(createAwsMinter().mint(grant(), subject, CTX))
      expect(resp.aws_access_key_id).toMatch(/^ASIA/)
      expect(fake.requests[0]?.auth).toBe('ok')
      expect(fake.requests[0]?.headers.authorization).toContain(`Credential=${TESSERA_ROLE.accessKeyId}/`)
    } finally {
      delete process.env.AWS_ENDPOINT_URL_STS
    }
  })

  it('sends no tags and no policy when the grant has none', async () => {
    await createAwsMinter({ client }).mint(grant(), subject, CTX)
    const [call] = fake.assumeRoleCalls()
    expect(Object.keys(call ?? {}).filter((k) => k.startsWith('Tags') || k === 'Policy')).toEqual([])
  })

  it('sanitises a hostile claim value into a valid, distinct tag value', async () => {
    const hostile = { ...subject, claims: { ...subject.claims, repository: 'acme/app*<script>' } }
    await createAwsMinter({ client }).mint(grant({ sessionTags: { repo: '{{repository}}' } }), hostile, CTX)
    const value = fake.assumeRoleCalls()[0]?.['Tags.member.1.Value']
    expect(value).toMatch(/^acme\/app--script-=[\w-]{22}$/)
  })
})

describe('createAwsMinter: refusals before STS', () => {
  it('refuses (InvalidTarget) when a tag names an absent claim, and calls no STS', async () => {
    const g = grant({ sessionTags: { env: '{{environment}}' } })
    await expect(createAwsMinter({ client }).mint(g, subject, CTX)).rejects.toThrow(InvalidTarget)
    expect(fake.count()).toBe(0)
  })

  it('refuses when a tag names a non-scalar claim', async () => {
    const g = grant({ sessionTags: { groups: '{{groups}}' } })
    await expect(createAwsMinter({ client }).mint(g, subject, CTX)).rejects.toThrow(/needs claim 'groups'/)
    expect(fake.count()).toBe(0)
  })

  it('refuses when the SourceIdentity template names an absent claim', async () => {
    const g = grant({ sourceIdentity: '{{workflow}}' })
    await expect(createAwsMinter({ client }).mint(g, subject, CTX)).rejects.toThrow(InvalidTarget)
    expect(fake.count()).toBe(0)
  })

  it('refuses a session policy that is not a JSON object (loader bypassed)', async () => {
    const g = grant({ sessionPolicy: '[1,2]' })
    await expect(createAwsMinter({ client }).mint(g, subject, CTX)).rejects.toThrow(InvalidRequest)
    expect(fake.count()).toBe(0)
  })
})

describe('createAwsMinter: STS errors', () => {
  const cases = [
    ['AccessDenied', InvalidTarget, /AccessDenied/],
    ['RegionDisabledException', InvalidTarget, /not activated/],
    ['PackedPolicyTooLarge', InvalidRequest, /policy 'deploy-app'.*PackedPolicyTooLarge/],
    ['MalformedPolicyDocument', InvalidRequest, /policy 'deploy-app'.*malformed/],
    ['ValidationError', InvalidTarget, /maximum session duration/],
    ['garbage', TemporarilyUnavailable, /unavailable|unexpected/],
  ] as const
  for (const [fault, type, message] of cases) {
    it(`maps ${fault} to ${type.name} without STS's own text`, async () => {
      fake.fail(fault)
      const err = await createAwsMinter({ client })
        .mint(grant(), subject, CTX)
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(type)
      expect((err as Error).message).toMatch(message)
      expect((err as Error).message).not.toMatch(/not authorized to perform|allotted|Syntax errors/)
      expect(fake.count('AssumeRole')).toBe(1)
    })
  }

  it('retries a throttled call and succeeds', async () => {
    fake.fail('Throttling', { times: 1 })
    const resp = await body(createAwsMinter({ client }).mint(grant(), subject, CTX))
    expect(resp.aws_access_key_id).toMatch(/^ASIA/)
    expect(fake.count('AssumeRole')).toBe(2)
  })

  it('gives up on persistent throttling after 3 attempts with 503, Retry-After and a throttle', async () => {
    fake.fail('Throttling')
    const err = await createAwsMinter({ client })
      .mint(grant(), subject, CTX)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DependencyThrottled)
    expect(err).toMatchObject({ status: 503, dependency: 'sts', headers: { 'Retry-After': '1' } })
    expect((err as Error).message).not.toMatch(/Rate exceeded/)
    expect(fake.count('AssumeRole')).toBe(3)
  })

  it('gives up on persistent 500s after 3 attempts with 503', async () => {
    fake.fail('500')
    const err = await createAwsMinter({ client })
      .mint(grant(), subject, CTX)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(err).not.toBeInstanceOf(DependencyThrottled)
    expect((err as TemporarilyUnavailable).status).toBe(503)
    expect(fake.count('AssumeRole')).toBe(3)
  })

  it('answers 503 when STS hangs (bounded attempts)', async () => {
    fake.fail('hang')
    await expect(createAwsMinter({ client: quickClient }).mint(grant(), subject, CTX)).rejects.toThrow(
      TemporarilyUnavailable,
    )
    expect(fake.count('AssumeRole')).toBeLessThanOrEqual(3)
  })

  it('answers 503 when its own STS credentials are unknown to STS', async () => {
    const stranger = new STSClient({
      ...awsClientConfig('sts'),
      endpoint: fake.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'nope' },
    })
    await expect(createAwsMinter({ client: stranger }).mint(grant(), subject, CTX)).rejects.toThrow(
      TemporarilyUnavailable,
    )
    stranger.destroy()
  })

  it('answers 503 when STS returns credentials that have already expired', async () => {
    const late = () => Date.now() + 10 * 3600 * 1000
    await expect(createAwsMinter({ client, now: late }).mint(grant(), subject, CTX)).rejects.toThrow(
      /already expired/,
    )
  })
})

describe('validateAwsGrant', () => {
  it('accepts a valid grant', () => {
    expect(
      validateAwsGrant(
        grant({ sessionTags: { repo: '{{repository}}' }, sessionPolicy: { Version: '2012-10-17' } }),
      ),
    ).toBeUndefined()
  })

  it('accepts a session policy of exactly 2048 characters packed, even if longer before minifying', () => {
    const filler = 'x'.repeat(2048 - '{"a":""}'.length)
    expect(validateAwsGrant(grant({ sessionPolicy: `{ "a" :\n "${filler}" }` }))).toBeUndefined()
  })

  const bad: [string, Record<string, unknown>, RegExp][] = [
    [
      'a session policy over 2048 packed characters',
      { sessionPolicy: { a: 'x'.repeat(2048) } },
      /^sessionPolicy: .*2048/,
    ],
    ['a session policy that is not JSON', { sessionPolicy: '{"Version":' }, /^sessionPolicy: /],
    ['a session policy that is a JSON array', { sessionPolicy: '[]' }, /^sessionPolicy: /],
    ['a session policy that is a JSON string', { sessionPolicy: '"x"' }, /^sessionPolicy: /],
    [
      '51 session tags',
      { sessionTags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      /^sessionTags: .*50/,
    ],
    ['a reserved aws: tag key', { sessionTags: { 'aws:x': 'v' } }, /^sessionTags\.aws:x: .*reserved/],
    ['a tag key with a disallowed character', { sessionTags: { 'a*': 'v' } }, /^sessionTags\.a\*: /],
    ['a 129-character tag key', { sessionTags: { ['k'.repeat(129)]: 'v' } }, /1-128/],
    ['tag keys differing only in case', { sessionTags: { Repo: 'a', repo: 'b' } }, /case-insensitively/],
    ['a malformed tag template', { sessionTags: { repo: '{{repository' } }, /placeholder/],
    ['a malformed sourceIdentity template', { sourceIdentity: '{{ }}' }, /^sourceIdentity: /],
  ]
  for (const [why, g, message] of bad) {
    it(`reports ${why}`, () => {
      expect(validateAwsGrant(grant(g))).toMatch(message)
    })
  }
})

describe('clampDuration', () => {
  it('clamps to 900-43200 seconds', () => {
    expect(clampDuration(60)).toBe(900)
    expect(clampDuration(3600)).toBe(3600)
    expect(clampDuration(100_000)).toBe(43_200)
  })
})

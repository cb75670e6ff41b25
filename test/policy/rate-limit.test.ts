import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { type RateLimit, RateLimitSchema } from '../../lib/config/schema.js'
import { BrokerError, ConfigError, StoreUnavailable, TooManyRequests } from '../../lib/errors.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { KeyRing } from '../../lib/keys/signer.js'
import { createRateLimiter, takeRateLimit } from '../../lib/policy/rate-limit.js'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

const BROKER = 'https://sts.example.com'
const SUB = 'repo:acme/app:ref:refs/heads/main'
/** A window boundary: 1_800_000_000 is a multiple of 60, 3600 and 86400 (and of course of 1). */
const T0 = 1_800_000_000_000

let dynamo: TestDynamo
let issuer: TestIssuer
let keys: KeyRing
beforeAll(async () => {
  ;[dynamo, issuer] = await Promise.all([startDynalite(), startTestIssuer({ alg: 'ES256' })])
  const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  keys = { active: signer, publicKeys: [signer.publicJwk] }
})
afterAll(async () => {
  await Promise.all([dynamo.close(), issuer.close()])
})

const rate = (text: string): RateLimit => RateLimitSchema.parse(text)

async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw err
  return err
}

let n = 0
/** A fresh identity per test keeps tests independent on the shared dynalite table. */
const who = (policy = 'deploy') => ({ policy, provider: 'ci', sub: `${SUB}#${++n}` })

describe('rateLimit syntax', () => {
  it.each([
    ['30/m', { count: 30, windowSeconds: 60, text: '30 per minute' }],
    ['1/s', { count: 1, windowSeconds: 1, text: '1 per second' }],
    ['500/h', { count: 500, windowSeconds: 3600, text: '500 per hour' }],
    ['10000/d', { count: 10_000, windowSeconds: 86_400, text: '10000 per day' }],
  ])('%s', (text, expected) => {
    expect(rate(text)).toEqual(expected)
  })

  it.each(['0/m', '30', '30/w', '-1/m', '1.5/m', '30/ m', '30/M', '/m', '01/m', '1234567890/m', ''])(
    'refuses %j',
    (text) => {
      expect(RateLimitSchema.safeParse(text).success).toBe(false)
    },
  )

  it('parses every <count>/<unit> and refuses anything else without throwing (property)', () => {
    const seconds = { s: 1, m: 60, h: 3600, d: 86_400 } as const
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 999_999_999 }),
        fc.constantFrom('s', 'm', 'h', 'd'),
        (count, unit) => {
          expect(rate(`${count}/${unit}`)).toMatchObject({ count, windowSeconds: seconds[unit] })
        },
      ),
    )
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = RateLimitSchema.safeParse(text)
        expect(result.success).toBe(/^[1-9]\d{0,8}\/[smhd]$/.test(text))
      }),
    )
  })

  it('refuses a bad value in a config with its location, and an unknown key under rateLimit', () => {
    const config = (extra: string) => `issuer: ${BROKER}
providers: [{ name: ci, kind: oidc, issuer: https://ci.example.com }]
${extra}`
    expect(() => loadConfigText(config('rateLimit: { default: 60/w }\n'), 't.yaml')).toThrow(
      /t\.yaml:3:\d+: rateLimit\.default/,
    )
    expect(() => loadConfigText(config('rateLimit: { defualt: 60/m }\n'), 't.yaml')).toThrow(ConfigError)
    expect(() => loadConfigText(config('rateLimit: 60/m\n'), 't.yaml')).toThrow(ConfigError)
  })
})

describe.each([
  ['MemoryTable', (clock: { ms: number }) => new MemoryTable(() => Math.floor(clock.ms / 1000))],
  [
    'DynamoDbTable',
    (clock: { ms: number }) =>
      new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now: () => clock.ms }),
  ],
] as const)('takeRateLimit on %s', (_name, make) => {
  it('admits the limit, then refuses with 429 invalid_request and Retry-After to the window end', async () => {
    const clock = { ms: T0 + 15_000 }
    const table = make(clock)
    const key = who()
    for (let i = 0; i < 3; i++) await takeRateLimit(table, rate('3/m'), key, clock.ms)
    const err = await refusal(takeRateLimit(table, rate('3/m'), key, clock.ms))
    expect(err).toBeInstanceOf(TooManyRequests)
    expect(err).toMatchObject({ status: 429, code: 'invalid_request', headers: { 'Retry-After': '45' } })
    expect(err.message).toBe(
      'rate limit of 3 per minute for this policy and subject exceeded; retry after 45 seconds',
    )
    expect(err.message).not.toMatch(/["\\]/)
  })

  it('starts counting again in the next window', async () => {
    const clock = { ms: T0 + 59_000 }
    const table = make(clock)
    const key = who()
    await takeRateLimit(table, rate('1/m'), key, clock.ms)
    expect((await refusal(takeRateLimit(table, rate('1/m'), key, clock.ms))).headers['Retry-After']).toBe('1')
    clock.ms = T0 + 60_000
    await takeRateLimit(table, rate('1/m'), key, clock.ms)
    expect((await refusal(takeRateLimit(table, rate('1/m'), key, clock.ms))).headers['Retry-After']).toBe(
      '60',
    )
  })

  it('counts each policy, provider and subject apart', async () => {
    const clock = { ms: T0 }
    const table = make(clock)
    const key = who()
    await takeRateLimit(table, rate('1/h'), key, clock.ms)
    await takeRateLimit(table, rate('1/h'), { ...key, policy: 'other' }, clock.ms)
    await takeRateLimit(table, rate('1/h'), { ...key, provider: 'other' }, clock.ms)
    await takeRateLimit(table, rate('1/h'), { ...key, sub: `${key.sub}x` }, clock.ms)
    // A separator inside a name cannot make two identities share a counter.
    await takeRateLimit(
      table,
      rate('1/h'),
      { policy: `${key.policy}\0ci`, provider: '', sub: key.sub },
      clock.ms,
    )
    await expect(takeRateLimit(table, rate('1/h'), key, clock.ms)).rejects.toBeInstanceOf(TooManyRequests)
  })
})

describe('createRateLimiter', () => {
  const config = (policies: string, top = '') =>
    loadConfigText(
      `issuer: ${BROKER}
providers: [{ name: ci, kind: oidc, issuer: https://ci.example.com }]
${top}policies:
${policies}`,
      't.yaml',
    ).config
  const policy = (name: string, extra = '') =>
    `  - { name: ${name}, provider: ci, match: { sub: x }, grant: { token: { audience: https://${name}.example.com } }${extra} }\n`

  it('is absent when nothing is limited (the exchange step is then free)', () => {
    expect(createRateLimiter(config(policy('a')), new MemoryTable())).toBeUndefined()
  })

  it('applies the default to policies without their own limit, and a policy limit over it', () => {
    const limiter = createRateLimiter(
      config(policy('a') + policy('b', ', rateLimit: 5/s'), 'rateLimit: { default: 60/m }\n'),
      new MemoryTable(),
    )
    expect(limiter?.limitOf('a')?.text).toBe('60 per minute')
    expect(limiter?.limitOf('b')?.text).toBe('5 per second')
    expect(limiter?.limitOf('unknown')).toBeUndefined()
  })

  it('limits only the policies that set one when there is no default', async () => {
    const table = new MemoryTable(() => T0 / 1000)
    const limiter = createRateLimiter(config(policy('a') + policy('b', ', rateLimit: 1/m')), table)
    expect(limiter?.limitOf('a')).toBeUndefined()
    for (let i = 0; i < 5; i++) await limiter?.take({ policy: 'a', provider: 'ci', sub: 's' }, T0)
    await limiter?.take({ policy: 'b', provider: 'ci', sub: 's' }, T0)
    await expect(limiter?.take({ policy: 'b', provider: 'ci', sub: 's' }, T0)).rejects.toBeInstanceOf(
      TooManyRequests,
    )
  })
})

// --- Through the exchange -------------------------------------------------------------------------

const CONFIG = (limit: string) => `issuer: ${BROKER}
signing: { algorithm: ES256, key: { local: unused.json } }
providers:
  - { name: ci, kind: oidc, issuer: ${issuer.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
rateLimit: { default: 100/d }
policies:
  - name: deploy
    provider: ci
    match: { sub: "${SUB}" }
    rateLimit: ${limit}
    grant: { token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m } }
`

interface Setup {
  readonly broker: Broker
  readonly audit: MemoryAuditSink
  readonly metrics: MemoryTelemetry
}

/** A broker whose clock runs `clock.offset` ms ahead of real time (tokens are signed in real time). */
async function setup(table: StateTable, clock: { offset: number }, limit = '2/h'): Promise<Setup> {
  const audit = new MemoryAuditSink()
  const metrics = new MemoryTelemetry()
  const broker = await createBroker(loadConfigText(CONFIG(limit), 'rate.yaml'), {
    table,
    audit,
    metrics,
    keys,
    now: () => Date.now() + clock.offset,
  })
  return { broker, audit, metrics }
}

let r = 0
function request(token: string, audience = 'https://api.example.com'): HttpRequest {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience,
  }).toString()
  return {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `rate-${++r}`,
  }
}

const token = (sub = SUB) => issuer.sign({ sub, aud: BROKER })

describe('the exchange limit step', () => {
  it('answers 429 with Retry-After, audits token.rate_limited at WARN and mints nothing', async () => {
    const { broker, audit, metrics } = await setup(new MemoryTable(), { offset: 0 })
    for (let i = 0; i < 2; i++) expect((await exchangeToken(broker, request(await token()))).status).toBe(200)
    const req = request(await token())
    const err = await refusal(exchangeToken(broker, req))
    expect(err).toMatchObject({ status: 429, code: 'invalid_request' })
    expect(Number(err.headers['Retry-After'])).toBeGreaterThan(0)
    expect(err.message).toContain('rate limit of 2 per hour')
    const events = audit.events.filter((e) => e.request_id === req.requestId)
    expect(events).toEqual([
      expect.objectContaining({
        event: 'token.rate_limited',
        level: 'WARN',
        policy: 'deploy',
        status: 429,
        sub: SUB,
      }),
    ])
    expect(audit.events.filter((e) => e.event === 'token.exchange')).toHaveLength(2)
    expect(metrics.total('exchanges', { outcome: 'denied' })).toBe(1)
  })

  it('does not consume the refused subject token: it works in the next window', async () => {
    // A fixed clock (tokens carry matching iat/exp) so the window boundary is exactly where the test says.
    const now = { ms: T0 + 10_000 }
    const table = new MemoryTable(() => Math.floor(now.ms / 1000))
    const audit = new MemoryAuditSink()
    const broker = await createBroker(loadConfigText(CONFIG('2/m'), 'rate.yaml'), {
      table,
      audit,
      metrics: new MemoryTelemetry(),
      keys,
      now: () => now.ms,
    })
    const at = () => {
      const iat = Math.floor(now.ms / 1000)
      return issuer.sign({ sub: SUB, aud: BROKER, iat, exp: iat + 300 })
    }
    for (let i = 0; i < 2; i++) expect((await exchangeToken(broker, request(await at()))).status).toBe(200)
    const kept = await at()
    expect((await refusal(exchangeToken(broker, request(kept)))).headers['Retry-After']).toBe('50')
    now.ms = T0 + 60_000
    expect((await exchangeToken(broker, request(kept))).status).toBe(200)
    // …and it stays single use.
    expect((await refusal(exchangeToken(broker, request(kept)))).message).toContain('already been used')
  })

  it('does not count requests the policy denies (decide runs first)', async () => {
    const { broker } = await setup(new MemoryTable(), { offset: 0 }, '1/h')
    for (let i = 0; i < 3; i++)
      expect(
        (await refusal(exchangeToken(broker, request(await token(), 'https://other.example.com')))).code,
      ).toBe('invalid_target')
    expect((await exchangeToken(broker, request(await token()))).status).toBe(200)
  })

  it('fails closed with 503 when the store cannot count', async () => {
    const table = new MemoryTable()
    table.increment = () => Promise.reject(new StoreUnavailable('down'))
    const { broker, metrics } = await setup(table, { offset: 0 })
    const err = await refusal(exchangeToken(broker, request(await token())))
    expect(err).toMatchObject({ status: 503, code: 'temporarily_unavailable' })
    expect(metrics.total('store_errors')).toBe(1)
  })

  it('two brokers on one DynamoDB table share one counter', async () => {
    const clock = { offset: 0 }
    const tableOf = () =>
      new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now: () => Date.now() })
    const sub = `${SUB}-shared-${Date.now()}`
    const config = CONFIG('3/d').replace(`sub: "${SUB}"`, `sub: "${sub}"`)
    const make = async () =>
      createBroker(loadConfigText(config, 'rate.yaml'), {
        table: tableOf(),
        audit: new MemoryAuditSink(),
        metrics: new MemoryTelemetry(),
        keys,
        now: () => Date.now() + clock.offset,
      })
    const [a, b] = await Promise.all([make(), make()])
    expect((await exchangeToken(a, request(await token(sub)))).status).toBe(200)
    expect((await exchangeToken(b, request(await token(sub)))).status).toBe(200)
    expect((await exchangeToken(a, request(await token(sub)))).status).toBe(200)
    expect((await refusal(exchangeToken(b, request(await token(sub))))).status).toBe(429)
    expect((await refusal(exchangeToken(a, request(await token(sub))))).status).toBe(429)
  })
})

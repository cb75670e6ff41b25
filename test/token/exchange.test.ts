import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { tokenHash } from '../../lib/assertion/token-hash.js'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { BrokerError, MethodNotAllowed, StoreUnavailable, TemporarilyUnavailable } from '../../lib/errors.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { KeyRing, Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

const BROKER = 'https://sts.example.com'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const SUB = 'repo:acme/app:ref:refs/heads/main'

let issuer: TestIssuer
let signer: Signer
beforeAll(async () => {
  issuer = await startTestIssuer({ alg: 'ES256' })
  signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
})
afterAll(() => issuer.close())

interface Setup {
  broker: Broker
  table: MemoryTable
  audit: MemoryAuditSink
  metrics: MemoryTelemetry
}

/** A broker with one oidc provider (single-use tokens) and one token policy, on in-memory state. */
async function setup(opts: { table?: MemoryTable; keys?: KeyRing } = {}): Promise<Setup> {
  const yaml = `issuer: ${BROKER}
signing: { algorithm: ES256, key: { local: unused.json } }
providers:
  - { name: ci, kind: oidc, issuer: ${issuer.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
policies:
  - name: deploy
    provider: ci
    match: { sub: "${SUB}" }
    grant: { token: { audience: https://api.example.com, scopes: [deploy:read, deploy:write], ttl: 10m } }
`
  const table = opts.table ?? new MemoryTable()
  const audit = new MemoryAuditSink()
  const metrics = new MemoryTelemetry()
  const keys = opts.keys ?? { active: signer, publicKeys: [signer.publicJwk] }
  const broker = await createBroker(loadConfigText(yaml, 'exchange.yaml'), { table, audit, metrics, keys })
  return { broker, table, audit, metrics }
}

let n = 0
function request(form: Record<string, string>, method = 'POST'): HttpRequest {
  return {
    method,
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `req-${++n}`,
  }
}

const form = (token: string, extra: Record<string, string> = {}) => ({
  grant_type: TOKEN_EXCHANGE,
  subject_token: token,
  subject_token_type: JWT_TYPE,
  audience: 'https://api.example.com',
  ...extra,
})

const subjectToken = () => issuer.sign({ sub: SUB, aud: BROKER })

/** Runs the exchange and returns the OAuth error it failed with. */
async function refused(broker: Broker, req: HttpRequest): Promise<BrokerError> {
  const err = await exchangeToken(broker, req).then(
    (res: HttpResponse) => new Error(`expected a refusal, got ${res.status} ${res.body}`),
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw err
  return err
}

const minted = (audit: MemoryAuditSink) => audit.events.filter((e) => e.event === 'token.exchange').length

describe('exchangeToken: the allowed path', () => {
  it('mints through the token minter, audits once and counts one allowed exchange', async () => {
    const { broker, audit, metrics } = await setup()
    const req = request(form(await subjectToken(), { scope: 'deploy:read' }))
    const res = await exchangeToken(broker, req)
    expect(res.status).toBe(200)
    const body = JSON.parse(res.body) as Record<string, unknown>
    expect(body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 600,
      scope: 'deploy:read',
    })
    const events = audit.events.filter((e) => e.request_id === req.requestId)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      event: 'token.exchange',
      policy: 'deploy',
      provider: 'ci',
      kid: signer.kid,
    })
    expect(metrics.total('exchanges', { outcome: 'allowed' })).toBe(1)
  })
})

describe('exchangeToken: decide before consume', () => {
  let s: Setup
  beforeEach(async () => {
    s = await setup()
  })

  it('a request the policy denies (audience) does not consume its subject token', async () => {
    const token = await subjectToken()
    const err = await refused(s.broker, request(form(token, { audience: 'https://other.example.com' })))
    expect(err.code).toBe('invalid_target')
    const res = await exchangeToken(s.broker, request(form(token)))
    expect(res.status).toBe(200)
  })

  it('a request the policy denies (scope) does not consume its subject token', async () => {
    const token = await subjectToken()
    const err = await refused(s.broker, request(form(token, { scope: 'admin' })))
    expect(err.code).toBe('invalid_scope')
    expect((await exchangeToken(s.broker, request(form(token)))).status).toBe(200)
  })

  it('a subject the policy does not match consumes nothing (only its denial is counted for the inventory)', async () => {
    const token = await issuer.sign({ sub: 'repo:evil/app:ref:refs/heads/main', aud: BROKER })
    let puts = 0
    const put = s.table.put.bind(s.table)
    s.table.put = (item, condition) => {
      if (!item.pk.startsWith('usage#')) puts++
      return put(item, condition)
    }
    await expect(refused(s.broker, request(form(token)))).resolves.toMatchObject({ code: 'invalid_target' })
    expect(puts).toBe(0)
  })

  it('an allowed token is consumed: its second use is a replay and mints nothing', async () => {
    const token = await subjectToken()
    expect((await exchangeToken(s.broker, request(form(token)))).status).toBe(200)
    const err = await refused(s.broker, request(form(token)))
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'replay' })
    expect(minted(s.audit)).toBe(1)
  })

  it('a revoked subject gets nothing, audited as a denial', async () => {
    await s.broker.revocations.revoke({ provider: 'ci', sub: SUB }, 'test')
    const req = request(form(await subjectToken()))
    const err = await refused(s.broker, req)
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'revoked' })
    expect(s.audit.events.filter((e) => e.request_id === req.requestId)).toMatchObject([
      { event: 'token.denied', policy: 'deploy', error: 'invalid_request' },
    ])
    expect(minted(s.audit)).toBe(0)
  })
})

describe('exchangeToken: each step attributes its own failure', () => {
  it('a store outage while consuming counts store_errors and an error outcome', async () => {
    const table = new MemoryTable()
    table.put = () => Promise.reject(new StoreUnavailable('down'))
    const { broker, audit, metrics } = await setup({ table })
    const err = await refused(broker, request(form(await subjectToken())))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(metrics.total('store_errors')).toBe(1)
    expect(metrics.total('kms_errors')).toBe(0)
    expect(metrics.total('exchanges', { outcome: 'error' })).toBe(1)
    expect(minted(audit)).toBe(0)
  })

  it('a store outage in the revocation check counts store_errors', async () => {
    const table = new MemoryTable()
    table.query = () => Promise.reject(new StoreUnavailable('socket hang up'))
    const { broker, metrics } = await setup({ table })
    const err = await refused(broker, request(form(await subjectToken())))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(metrics.total('store_errors')).toBe(1)
  })

  it('a signing outage counts kms_errors, not store_errors', async () => {
    const down: Signer = {
      ...signer,
      sign: () => Promise.reject(new TemporarilyUnavailable('signing service is temporarily unavailable')),
    }
    const { broker, audit, metrics } = await setup({ keys: { active: down, publicKeys: [signer.publicJwk] } })
    const err = await refused(broker, request(form(await subjectToken())))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(metrics.total('kms_errors')).toBe(1)
    expect(metrics.total('store_errors')).toBe(0)
    expect(minted(audit)).toBe(0)
  })

  it('a policy denial counts a denied outcome and no dependency error', async () => {
    const { broker, metrics } = await setup()
    await refused(broker, request(form(await subjectToken(), { audience: 'https://other.example.com' })))
    expect(metrics.total('exchanges', { outcome: 'denied' })).toBe(1)
    for (const m of ['store_errors', 'kms_errors', 'sts_errors'] as const) expect(metrics.total(m)).toBe(0)
  })

  it('a grant kind without a minter is invalid_target, never a crash', async () => {
    const { broker, audit } = await setup()
    const err = await refused({ ...broker, minters: new Map() }, request(form(await subjectToken())))
    expect(err.code).toBe('invalid_target')
    expect(minted(audit)).toBe(0)
  })
})

describe('exchangeToken: what is audited before a subject is known', () => {
  it('a malformed request is audited once, without a provider or token hash', async () => {
    const { broker, audit } = await setup()
    const req = request({ grant_type: TOKEN_EXCHANGE, subject_token_type: JWT_TYPE })
    expect((await refused(broker, req)).code).toBe('invalid_request')
    const events = audit.events.filter((e) => e.request_id === req.requestId)
    expect(events).toHaveLength(1)
    expect(events[0]?.provider).toBeUndefined()
    expect(events[0]?.token_sha256).toBeUndefined()
  })

  it('an unverifiable token is audited by the hash of what was presented', async () => {
    const { broker, audit } = await setup()
    const req = request(form('not-a-jwt'))
    expect((await refused(broker, req)).code).toBe('invalid_request')
    const [event] = audit.events.filter((e) => e.request_id === req.requestId)
    expect(event).toMatchObject({ event: 'token.denied', token_sha256: tokenHash('not-a-jwt') })
    expect(JSON.stringify(audit.events)).not.toContain('not-a-jwt')
  })

  it('a subject token type no verifier accepts is unsupported_token_type', async () => {
    const { broker } = await setup()
    const req = request(form(await subjectToken(), { subject_token_type: 'urn:example:unknown' }))
    expect((await refused(broker, req)).code).toBe('unsupported_token_type')
  })

  it('a method other than POST is refused before anything is audited', async () => {
    const { broker, audit } = await setup()
    await expect(exchangeToken(broker, request(form('x'), 'GET'))).rejects.toBeInstanceOf(MethodNotAllowed)
    expect(audit.events).toHaveLength(0)
  })
})

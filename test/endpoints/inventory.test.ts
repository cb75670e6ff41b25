import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { inventoryEndpoint } from '../../lib/endpoints/inventory.js'
import { BrokerError } from '../../lib/errors.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { InventoryReportSchema } from '../../lib/inventory/report.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

const BROKER = 'https://sts.example.com'
const API = 'https://api.example.com'
const T0 = Date.UTC(2026, 11, 6, 12)

let issuer: TestIssuer
let signer: Signer
beforeAll(async () => {
  issuer = await startTestIssuer({ alg: 'ES256' })
  signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
})
afterAll(() => issuer.close())

async function setup() {
  const yaml = `issuer: ${BROKER}
signing: { algorithm: ES256, key: { local: unused.json } }
providers:
  - { name: ci, kind: oidc, issuer: ${issuer.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
policies:
  - name: deploy
    provider: ci
    match: { sub: [repo:acme/app, repo:acme/web] }
    grant: { token: { audience: ${API}, scopes: [deploy:read, deploy:write], ttl: 10m } }
  - name: never-used
    provider: ci
    match: { sub: repo:acme/old }
    grant: { token: { audience: https://old.example.com, scopes: [old:x], ttl: 10m } }
`
  const clock = { ms: T0 }
  const audit = new MemoryAuditSink()
  const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
  const broker = await createBroker(loadConfigText(yaml, 'inventory.yaml'), {
    table,
    audit,
    metrics: new MemoryTelemetry(),
    now: () => clock.ms,
    keys: { active: signer, publicKeys: [signer.publicJwk] },
  })
  broker.usage?.stop()
  return { broker, audit, clock }
}

let n = 0
const req = (method: string, path: string, headers: Record<string, string>, body = ''): HttpRequest => ({
  method,
  path,
  headers,
  body,
  query: '',
  sourceIp: '192.0.2.7',
  requestId: `r-${++n}`,
})

async function exchange(broker: Broker, sub: string, extra: Record<string, string> = {}) {
  const token = await issuer.sign({
    sub,
    aud: BROKER,
    iat: Math.floor(T0 / 1000),
    exp: Math.floor(T0 / 1000) + 300,
  })
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: API,
    ...extra,
  }).toString()
  return exchangeToken(
    broker,
    req('POST', '/token', { 'content-type': 'application/x-www-form-urlencoded' }, body),
  ).then(
    (r) => ({ status: r.status, token }),
    (e: unknown) => ({ status: e instanceof BrokerError ? e.status : 500, token }),
  )
}

const admin = async (scopes: string[], aud = BROKER) =>
  (
    await mintAccessToken(signer, {
      issuer: BROKER,
      sub: 'ops@example.com',
      audience: [aud],
      scopes,
      ttl: 600,
      clientId: 'admin',
      idp: 'corp',
      now: T0,
    })
  ).token

async function getInventory(broker: Broker, authorization?: string, method = 'GET') {
  return inventoryEndpoint(broker, req(method, '/inventory', authorization ? { authorization } : {})).then(
    (r) => ({ status: r.status, body: JSON.parse(r.body) as unknown, raw: r.body }),
    (e: unknown) => {
      if (!(e instanceof BrokerError)) throw e
      return { status: e.status, body: { error: e.code } as unknown, raw: '' }
    },
  )
}

describe('GET /inventory', () => {
  it('counts allowed and denied exchanges exactly, per identity, policy, scope and day', async () => {
    const { broker } = await setup()
    const presented: string[] = []
    for (let i = 0; i < 3; i++)
      presented.push((await exchange(broker, 'repo:acme/app', { scope: 'deploy:read' })).token)
    presented.push((await exchange(broker, 'repo:acme/web')).token)
    const denied = await exchange(broker, 'repo:evil/x')
    expect(denied.status).toBe(400)
    presented.push(denied.token)
    const res = await getInventory(broker, `Bearer ${await admin(['tessera:inventory'])}`)
    expect(res.status).toBe(200)
    const report = InventoryReportSchema.parse(res.body)
    const bySub = new Map(report.identities.map((i) => [i.sub, i]))
    expect(bySub.get('repo:acme/app')).toMatchObject({
      provider: 'ci',
      exchanges: 3,
      denied: 0,
      last_ip: '192.0.2.7',
    })
    expect(bySub.get('repo:acme/web')).toMatchObject({ exchanges: 1, denied: 0 })
    expect(bySub.get('repo:evil/x')).toMatchObject({ exchanges: 0, denied: 1, last_seen: null })
    const deploy = report.policies.find((p) => p.name === 'deploy')
    expect(deploy?.exchanges_per_day).toEqual([{ day: '2026-12-06', count: 4 }])
    expect(deploy?.identities).toBe(2)
    expect(deploy?.grants).toEqual([
      { item: 'deploy:read', last_used: new Date(T0).toISOString() },
      { item: 'deploy:write', last_used: new Date(T0).toISOString() },
    ])
    expect(report.policies.find((p) => p.name === 'never-used')).toMatchObject({
      last_used: null,
      identities: 0,
    })
    for (const t of presented) expect(res.raw).not.toContain(t)
  })

  it('records a narrowed scope as the only one used', async () => {
    const { broker } = await setup()
    await exchange(broker, 'repo:acme/app', { scope: 'deploy:read' })
    const report = InventoryReportSchema.parse(
      (await getInventory(broker, `Bearer ${await admin(['tessera:inventory'])}`)).body,
    )
    expect(report.policies.find((p) => p.name === 'deploy')?.grants).toEqual([
      { item: 'deploy:read', last_used: new Date(T0).toISOString() },
      { item: 'deploy:write', last_used: null },
    ])
  })

  it('does not consume a write per exchange: the aggregated minute is written once', async () => {
    const { broker } = await setup()
    await exchange(broker, 'repo:acme/app')
    await new Promise((r) => setTimeout(r, 0))
    expect(broker.usage?.pendingCount).toBe(0)
    await exchange(broker, 'repo:acme/app')
    await exchange(broker, 'repo:acme/app')
    expect(broker.usage?.pendingCount).toBe(2)
  })

  it('401 without a token, with a malformed one, or with a token for another audience', async () => {
    const { broker } = await setup()
    expect((await getInventory(broker)).status).toBe(401)
    expect((await getInventory(broker, 'Bearer nope')).status).toBe(401)
    expect((await getInventory(broker, `Bearer ${await admin(['tessera:inventory'], API)}`)).status).toBe(401)
  })

  it('403 without the tessera:inventory scope, even with other admin scopes', async () => {
    const { broker } = await setup()
    const res = await getInventory(broker, `Bearer ${await admin(['tessera:revoke', 'tessera:introspect'])}`)
    expect(res).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } })
  })

  it('405 for any method but GET', async () => {
    const { broker } = await setup()
    expect((await getInventory(broker, `Bearer ${await admin(['tessera:inventory'])}`, 'POST')).status).toBe(
      405,
    )
  })

  it('audits who read it, without the admin token', async () => {
    const { broker, audit } = await setup()
    const token = await admin(['tessera:inventory'])
    await getInventory(broker, `Bearer ${token}`)
    const event = audit.events.find((e) => e.event === 'inventory.read')
    expect(event).toMatchObject({ caller: 'ops@example.com', caller_policy: 'admin' })
    expect(JSON.stringify(audit.events)).not.toContain(token)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { BrokerError, StoreUnavailable, TemporarilyUnavailable } from '../../lib/errors.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

// The replay write (consume) and the signature (mint) run side by side; these tests pin what that
// may never change: no credential leaves before its replay write won, and a replay this instance
// knows of costs no signature.

const BROKER = 'https://sts.example.com'
const SUB = 'repo:acme/app:ref:refs/heads/main'

let issuer: TestIssuer
let key: Signer
beforeAll(async () => {
  issuer = await startTestIssuer({ alg: 'ES256' })
  key = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
})
afterAll(() => issuer.close())

/** A signer that counts its calls and keeps every signature it made (to prove none leaves). */
class CountingSigner {
  calls = 0
  readonly signatures: string[] = []
  onSign: () => void = () => {}
  readonly signer: Signer
  constructor(inner: Signer) {
    this.signer = {
      alg: inner.alg,
      kid: inner.kid,
      publicJwk: inner.publicJwk,
      sign: async (input) => {
        this.calls++
        this.onSign()
        const signature = await inner.sign(input)
        this.signatures.push(Buffer.from(signature).toString('base64url'))
        return signature
      },
    }
  }
}

/** Counts the replay writes that reach the table. */
function countReplayWrites(table: StateTable): () => number {
  let writes = 0
  const put = table.put.bind(table)
  table.put = (item, condition) => {
    if (item.pk.startsWith('replay#')) writes++
    return put(item, condition)
  }
  return () => writes
}

interface Setup {
  broker: Broker
  signing: CountingSigner
  audit: MemoryAuditSink
  metrics: MemoryTelemetry
}

async function setup(table: StateTable = new MemoryTable(), opts: { warm?: boolean } = {}): Promise<Setup> {
  const yaml = `issuer: ${BROKER}
signing: { algorithm: ES256, key: { local: unused.json } }
providers:
  - { name: ci, kind: oidc, issuer: ${issuer.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
policies:
  - name: deploy
    provider: ci
    match: { sub: "${SUB}" }
    grant: { token: { audience: https://api.example.com, scopes: [deploy:read], ttl: 10m } }
  - name: held
    provider: ci
    match: { sub: "${SUB}" }
    grant:
      token: { audience: https://held.example.com, scopes: [read], ttl: 10m }
      approval: { approvers: { policy: approvers } }
  - name: approvers
    provider: ci
    match: { sub: nobody }
    grant: { token: { audience: ${BROKER}, scopes: ["tessera:approve"], ttl: 1h } }
`
  const signing = new CountingSigner(key)
  const audit = new MemoryAuditSink()
  const metrics = new MemoryTelemetry()
  const keys = { active: signing.signer, publicKeys: [key.publicJwk] }
  const broker = await createBroker(loadConfigText(yaml, 'overlap.yaml'), {
    table,
    audit,
    metrics,
    keys,
    recordUsage: false,
  })
  // The revocation list loaded, as on any instance past its first exchange: only then does minting
  // overlap the replay write (a guard that must read the store runs after a successful write).
  if (opts.warm !== false)
    await broker.revocations.blocksIssuance({ provider: 'ci', sub: SUB, policy: 'deploy' })
  return { broker, signing, audit, metrics }
}

let n = 0
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
    requestId: `overlap-${++n}`,
  }
}

const subjectToken = () => issuer.sign({ sub: SUB, aud: BROKER })

async function refused(broker: Broker, req: HttpRequest): Promise<BrokerError> {
  const err = await exchangeToken(broker, req).then(
    (res: HttpResponse) => new Error(`expected a refusal, got ${res.status} ${res.body}`),
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw err
  return err
}

/** Nothing the caller or the audit log saw carries a signature the signer made. */
function expectNoSignatureLeft(s: Setup, err: BrokerError): void {
  const seen = JSON.stringify([s.audit.events, err.message, err.detail ?? ''])
  for (const sig of s.signing.signatures) expect(seen).not.toContain(sig)
  expect(s.audit.events.filter((e) => e.event === 'token.exchange')).toHaveLength(0)
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('exchangeToken: the replay write overlaps the signature', () => {
  it('signs while the replay write is still in flight, and answers once the write has won', async () => {
    const table = new MemoryTable()
    const signed = deferred()
    const put = table.put.bind(table)
    // The write completes only after the signer was called: without overlap this would never settle.
    table.put = async (item, condition) => {
      if (item.pk.startsWith('replay#')) await signed.promise
      return put(item, condition)
    }
    const s = await setup(table)
    s.signing.onSign = signed.resolve
    const res = await exchangeToken(s.broker, request(await subjectToken()))
    expect(res.status).toBe(200)
    expect(s.signing.calls).toBe(1)
    const token = (JSON.parse(res.body) as { access_token: string }).access_token
    expect(token.endsWith(s.signing.signatures[0] ?? '-')).toBe(true)
  })

  it('a replay write the store refuses returns no credential: the signature made meanwhile is discarded', async () => {
    const shared = new MemoryTable()
    const other = await setup(shared)
    const token = await subjectToken()
    // Another instance consumed the token; this one only learns it from the store's refusal.
    expect((await exchangeToken(other.broker, request(token))).status).toBe(200)
    const s = await setup(shared)
    const err = await refused(s.broker, request(token))
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'replay' })
    expect(s.signing.calls).toBe(1)
    expectNoSignatureLeft(s, err)
    expect(s.audit.events).toMatchObject([
      { event: 'token.denied', policy: 'deploy', error: 'invalid_request' },
    ])
    expect(s.metrics.total('exchanges', { outcome: 'denied' })).toBe(1)
  })

  it('a store outage during the replay write is a 503 and returns no credential', async () => {
    const table = new MemoryTable()
    const signed = deferred()
    const put = table.put.bind(table)
    // The store fails only after the signature exists, so the discarded one is really there.
    table.put = async (item, condition) => {
      if (!item.pk.startsWith('replay#')) return put(item, condition)
      await signed.promise
      throw new StoreUnavailable('connection reset')
    }
    const s = await setup(table)
    s.signing.onSign = signed.resolve
    const err = await refused(s.broker, request(await subjectToken()))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(err.status).toBe(503)
    expect(s.signing.calls).toBe(1)
    expectNoSignatureLeft(s, err)
    expect(s.metrics.total('store_errors')).toBe(1)
    expect(s.metrics.total('exchanges', { outcome: 'error' })).toBe(1)
  })

  it('after a failed replay write the next exchange waits for its write: a down store costs no signature', async () => {
    const table = new MemoryTable()
    table.put = () => Promise.reject(new StoreUnavailable('down'))
    const s = await setup(table)
    await refused(s.broker, request(await subjectToken()))
    const before = s.signing.calls
    const err = await refused(s.broker, request(await subjectToken()))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(s.signing.calls).toBe(before)
    expectNoSignatureLeft(s, err)
  })

  it('before the revocation list is loaded nothing overlaps: a refused write costs no signature', async () => {
    const shared = new MemoryTable()
    const other = await setup(shared)
    const token = await subjectToken()
    expect((await exchangeToken(other.broker, request(token))).status).toBe(200)
    const cold = await setup(shared, { warm: false })
    const err = await refused(cold.broker, request(token))
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'replay' })
    expect(cold.signing.calls).toBe(0)
  })

  it('a policy held for approval signs nothing: the request is held, its token consumed', async () => {
    const s = await setup()
    const token = await subjectToken()
    const err = await refused(s.broker, request(token, 'https://held.example.com'))
    expect(err.code).toBe('authorization_pending')
    expect(s.signing.calls).toBe(0)
    expect(await refused(s.broker, request(token, 'https://held.example.com'))).toMatchObject({
      detail: 'replay',
    })
    expect(s.signing.calls).toBe(0)
  })

  it('a revoked subject is refused without a signature, even when signing overlaps', async () => {
    const s = await setup()
    await s.broker.revocations.revoke({ provider: 'ci', sub: SUB }, 'test')
    const err = await refused(s.broker, request(await subjectToken()))
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'revoked' })
    expect(s.signing.calls).toBe(0)
  })
})

describe('exchangeToken: a replay this instance knows of costs no signature', () => {
  it('a token this instance consumed itself: the replay makes no signature and no store write', async () => {
    const table = new MemoryTable()
    const writes = countReplayWrites(table)
    const s = await setup(table)
    const token = await subjectToken()
    expect((await exchangeToken(s.broker, request(token))).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      const err = await refused(s.broker, request(token))
      expect(err).toMatchObject({ code: 'invalid_request', detail: 'replay' })
    }
    expect(s.signing.calls).toBe(1)
    expect(writes()).toBe(1)
  })

  it('a token the store refused once: every later replay makes no signature and no store write', async () => {
    const shared = new MemoryTable()
    const writes = countReplayWrites(shared)
    const other = await setup(shared)
    const token = await subjectToken()
    expect((await exchangeToken(other.broker, request(token))).status).toBe(200)
    const s = await setup(shared)
    for (let i = 0; i < 5; i++) await refused(s.broker, request(token))
    // One signature at most per token and instance: the first refusal taught this instance.
    expect(s.signing.calls).toBe(1)
    expect(writes()).toBe(2)
  })

  it('concurrent presentations of one token: one credential, one signature, one store write', async () => {
    const table = new MemoryTable()
    const writes = countReplayWrites(table)
    const s = await setup(table)
    const token = await subjectToken()
    const outcomes = await Promise.allSettled([0, 1, 2, 3].map(() => exchangeToken(s.broker, request(token))))
    const ok = outcomes.filter((o) => o.status === 'fulfilled')
    const replays = outcomes.filter(
      (o) => o.status === 'rejected' && o.reason instanceof BrokerError && o.reason.detail === 'replay',
    )
    expect(ok).toHaveLength(1)
    expect(replays).toHaveLength(3)
    expect(s.signing.calls).toBe(1)
    expect(writes()).toBe(1)
  })

  it('distinct tokens are each signed once: the memory of consumed keys never refuses a fresh token', async () => {
    const s = await setup()
    for (let i = 0; i < 4; i++)
      expect((await exchangeToken(s.broker, request(await subjectToken()))).status).toBe(200)
    expect(s.signing.calls).toBe(4)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENDPOINTS, type EndpointName, endpointNamed } from '../../lib/endpoints/manifest.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { KeyRing, Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { goodClaims, type Harness, startHarness } from '../e2e/harness.js'

// infra/iam-roles.cjs gives each Lambda function its own role with only the calls its manifest
// entry (lib/endpoints/manifest.ts) lists.
// Here every endpoint runs through its real Lambda handler (the local server's routes) on a broker
// whose state table and signer record what they are asked to do, and each function's recorded
// DynamoDB actions and KMS signing are checked against its role. A code change that makes a
// function call something its role does not allow fails here, not in production.

type Fn = EndpointName

/** The DynamoDB action behind each StateTable method (lib/store/dynamodb-table.ts: one call each). */
const ACTION = {
  put: 'dynamodb:PutItem',
  get: 'dynamodb:GetItem',
  query: 'dynamodb:Query',
  delete: 'dynamodb:DeleteItem',
  increment: 'dynamodb:UpdateItem',
  merge: 'dynamodb:UpdateItem',
} as const

const used = { dynamodb: new Set<string>(), signs: 0 }

function recordingTable(inner: StateTable): StateTable {
  const record = (method: keyof typeof ACTION) => used.dynamodb.add(ACTION[method])
  return {
    put(item, condition) {
      record('put')
      return inner.put(item, condition)
    },
    get(pk, sk) {
      record('get')
      return inner.get(pk, sk)
    },
    query(pk) {
      record('query')
      return inner.query(pk)
    },
    delete(pk, sk, condition) {
      record('delete')
      return inner.delete(pk, sk, condition)
    },
    increment(pk, sk, attr, opts) {
      record('increment')
      return inner.increment(pk, sk, attr, opts)
    },
    merge(pk, sk, update) {
      record('merge')
      return inner.merge(pk, sk, update)
    },
  }
}

async function recordingKeys(): Promise<KeyRing> {
  const inner = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  const active: Signer = {
    alg: inner.alg,
    kid: inner.kid,
    publicJwk: inner.publicJwk,
    sign: (input) => {
      used.signs++
      return inner.sign(input)
    },
  }
  return { active, publicKeys: [inner.publicJwk] }
}

/** Runs `call` with fresh records and returns what it used. */
async function usage(
  call: () => Promise<Response>,
): Promise<{ status: number; dynamodb: string[]; signs: number }> {
  used.dynamodb.clear()
  used.signs = 0
  const res = await call()
  await res.arrayBuffer()
  return { status: res.status, dynamodb: [...used.dynamodb].sort(), signs: used.signs }
}

const allowedDynamo = (fn: Fn): string[] => [...endpointNamed(fn).aws.dynamodb].sort()
const maySign = (fn: Fn) => (endpointNamed(fn).aws.kms ?? []).includes('kms:Sign')

let h: Harness
let admin: string
/** The broker's clock: real time plus a skip, so a test can age the cached revocation list. */
let skipMs = 0
const now = () => Date.now() + skipMs
beforeAll(async () => {
  h = await startHarness({
    providerExtra: `  - name: vms
    kind: azure-imds
    subscriptions: ["0b1f6471-1bf0-4dda-aec3-111122223333"]`,
    policies: `
policies:
  - name: deploy-app
    provider: ci
    match: { sub: repo:acme/app:ref:refs/heads/main, repository_owner_id: "123456" }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
  - name: admin
    provider: ci
    match: { sub: ops }
    grant:
      token: { audience: "{{broker}}", scopes: [tessera:introspect, tessera:revoke], ttl: 5m }
  - name: held
    provider: ci
    match: { sub: agent-7 }
    grant:
      token: { audience: https://tickets.example.com, ttl: 5m }
      approval: { approvers: { policy: approver } }
  - name: approver
    provider: ci
    match: { sub: alice }
    grant:
      token: { audience: "{{broker}}", scopes: [tessera:approve], ttl: 5m }
  - name: fleet
    provider: vms
    match: { vm_id: 11111111-2222-3333-4444-555555555555 }
    grant:
      token: { audience: https://api.example.com, ttl: 5m }
`,
    brokerOptions: {
      table: recordingTable(new MemoryTable(() => Math.floor(now() / 1000))),
      keys: await recordingKeys(),
      now,
    },
  })
  const res = await h.post(
    h.exchangeForm(await h.issuer.sign({ sub: 'ops', aud: h.url }), { audience: h.url }),
  )
  admin = ((await res.json()) as { access_token: string }).access_token
  expect(admin).toBeTruthy()
}, 30_000)
afterAll(() => h?.close())

const get = (path: string) => () => fetch(`${h.url}${path}`)
const adminPost = (path: string, form: Record<string, string>) => () =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${admin}` },
    body: new URLSearchParams(form).toString(),
  })

describe('each function calls only what its IAM role allows', () => {
  it('token: an exchange with replay protection signs once and stays within PutItem/GetItem/Query', async () => {
    const token = await h.issuer.sign(goodClaims(h))
    const first = await usage(() => h.post(h.exchangeForm(token)))
    expect(first.status).toBe(200)
    expect(first.signs).toBe(1)
    expect(maySign('token')).toBe(true)
    // Replay PutItem and the revocation list Query happen on this path: the check is not vacuous.
    expect(first.dynamodb).toEqual(expect.arrayContaining(['dynamodb:PutItem']))
    expect(allowedDynamo('token')).toEqual(expect.arrayContaining(first.dynamodb))
    const replayed = await usage(() => h.post(h.exchangeForm(token)))
    expect(replayed.status).toBe(400)
    expect(replayed.signs).toBe(0)
    expect(allowedDynamo('token')).toEqual(expect.arrayContaining(replayed.dynamodb))
  })

  it('token: a refused exchange signs nothing', async () => {
    const denied = await h.issuer.sign(goodClaims(h, { sub: 'nobody' }))
    const r = await usage(() => h.post(h.exchangeForm(denied)))
    expect(r.status).toBe(400)
    expect(r.signs).toBe(0)
    expect(allowedDynamo('token')).toEqual(expect.arrayContaining(r.dynamodb))
  })

  it.each([
    ['jwks', '/.well-known/jwks.json'],
    ['metadata', '/.well-known/oauth-authorization-server'],
    ['metadata', '/.well-known/openid-configuration'],
    ['health', '/healthz'],
  ] as const)('%s (%s): no state table and no signing, as its role has neither', async (fn, path) => {
    const r = await usage(get(path))
    expect(r.status).toBe(200)
    expect(r).toMatchObject({ dynamodb: [], signs: 0 })
    expect(allowedDynamo(fn)).toEqual([])
    expect(maySign(fn)).toBe(false)
  })

  it('revoke: revoking and lifting use only PutItem/GetItem/Query/DeleteItem, and sign nothing', async () => {
    const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    const user = ((await res.json()) as { access_token: string }).access_token
    const calls = [
      await usage(adminPost('/revoke', { sub: 'someone', provider: 'ci' })),
      await usage(adminPost('/revoke', { sub: 'someone', provider: 'ci', lift: 'true' })),
      await usage(adminPost('/revoke', { token: user })),
      await usage(adminPost('/revoke', { token: user, lift: 'true' })),
    ]
    expect(calls.map((c) => c.status)).toEqual([200, 200, 200, 200])
    const all = [...new Set(calls.flatMap((c) => c.dynamodb))].sort()
    expect(all).toEqual(expect.arrayContaining(['dynamodb:DeleteItem', 'dynamodb:PutItem']))
    expect(allowedDynamo('revoke')).toEqual(expect.arrayContaining(all))
    expect(calls.reduce((n, c) => n + c.signs, 0)).toBe(0)
    expect(maySign('revoke')).toBe(false)
  })

  it('introspect: reads the revocation list with Query only, and signs nothing', async () => {
    // A revocation updates this instance's cached list; once the cache is older than 10 s the list is
    // read again, as a separate introspect function on Lambda always does at its cold start.
    await usage(adminPost('/revoke', { policy: 'fleet' }))
    skipMs += 11_000
    const r = await usage(adminPost('/introspect', { token: admin }))
    expect(r.status).toBe(200)
    expect(r.dynamodb).toEqual(['dynamodb:Query'])
    expect(allowedDynamo('introspect')).toEqual(expect.arrayContaining(r.dynamodb))
    expect(r.signs).toBe(0)
    expect(maySign('introspect')).toBe(false)
  })

  it('nonce: issuing a nonce uses PutItem/UpdateItem only, and signs nothing', async () => {
    const r = await usage(() => fetch(`${h.url}/nonce`, { method: 'POST' }))
    expect(r.status).toBe(200)
    expect(r.dynamodb).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem'])
    expect(allowedDynamo('nonce')).toEqual(expect.arrayContaining(r.dynamodb))
    expect(r.signs).toBe(0)
    expect(maySign('nonce')).toBe(false)
  })

  it('token and approvals: an approval request, the listing and a decision stay within their roles', async () => {
    const agent = await h.issuer.sign({ sub: 'agent-7', aud: h.url })
    const ask = await usage(() => h.post(h.exchangeForm(agent, { audience: 'https://tickets.example.com' })))
    expect(ask.status).toBe(400)
    expect(ask.dynamodb).toEqual(expect.arrayContaining(['dynamodb:PutItem']))
    expect(allowedDynamo('token')).toEqual(expect.arrayContaining(ask.dynamodb))
    const requested = h.audit.events.find((e) => e.event === 'approval.requested')
    const id = String(requested?.approval_id)
    const res = await h.post(
      h.exchangeForm(await h.issuer.sign({ sub: 'alice', aud: h.url }), { audience: h.url }),
    )
    const approver = ((await res.json()) as { access_token: string }).access_token
    const asApprover =
      (path: string, init: RequestInit = {}) =>
      () =>
        fetch(`${h.url}${path}`, {
          ...init,
          headers: { ...init.headers, authorization: `Bearer ${approver}` },
        })
    const list = await usage(asApprover('/approvals'))
    expect(list.status).toBe(200)
    const decide = await usage(
      asApprover(`/approvals/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'decision=approve',
      }),
    )
    expect(decide.status).toBe(200)
    for (const r of [list, decide]) {
      expect(allowedDynamo('approvals')).toEqual(expect.arrayContaining(r.dynamodb))
      expect(r.signs).toBe(0)
    }
    expect(maySign('approvals')).toBe(false)
  })

  it('only the token function may assume roles', () => {
    for (const e of ENDPOINTS)
      expect((e.aws as { sts?: readonly string[] }).sts !== undefined).toBe(e.name === 'token')
  })
})

import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devIssuerKeyFile, signDevToken } from '../../lib/server/dev-issuer.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'
import { freePort, postJwtExchange, runCli, startServe } from './cli-harness.js'

// Black box: two `tessera serve` processes sharing one DynamoDB table (dynalite on loopback),
// reached through AWS_ENDPOINT_URL_DYNAMODB, exactly as docs/operations.md describes.
const SUB = 'repo:acme/app:ref:refs/heads/main'
let dynamo: TestDynamo
let cwd: string
let urlA: string
let urlB: string
const children: ChildProcess[] = []

function configText(base: string, table: string): string {
  return `issuer: ${base}
store: { dynamodb: { table: ${table} } }
providers:
  - name: dev
    kind: oidc
    issuer: ${base}/dev
    audiences: [${base}]
    algorithms: [ES256]
    replay: once
policies:
  - name: deploy-app
    provider: dev
    match: { sub: ${SUB} }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
  - name: admin
    provider: dev
    match: { sub: ops }
    grant:
      token: { audience: ${base}, scopes: [tessera:introspect, tessera:revoke], ttl: 5m }
`
}

const devToken = (sub = SUB) =>
  signDevToken({
    issuer: `${urlA}/dev`,
    sub,
    audience: urlA,
    claims: {},
    ttlSeconds: 300,
    keyFile: devIssuerKeyFile(),
  })

const exchange = postJwtExchange

async function adminCall(base: string, path: string, admin: string, form: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${admin}` },
    body: new URLSearchParams(form),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  dynamo = await startDynalite()
  cwd = mkdtempSync(join(tmpdir(), 'tessera-dynamo-e2e-'))
  const [portA, portB] = [await freePort(), await freePort()]
  urlA = `http://127.0.0.1:${portA}`
  writeFileSync(join(cwd, 'tessera.yaml'), configText(urlA, dynamo.table))
  const env = {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTTESSERA',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
  }
  const a = await startServe(['--config', 'tessera.yaml', '--port', String(portA), '--dev-issuer'], cwd, env)
  children.push(a.child)
  // Instance B: same config (same issuer, table and signing key file), another port, no dev issuer.
  const b = await startServe(['--config', 'tessera.yaml', '--port', String(portB)], cwd, env)
  children.push(b.child)
  urlB = b.url
}, 60_000)

afterAll(async () => {
  for (const c of children) c.kill()
  await dynamo?.close()
})

describe('tessera serve with store.dynamodb (dynalite)', () => {
  it('exchanges, and the replay record lands in the DynamoDB table with its TTL attribute', async () => {
    const r = await exchange(urlA, await devToken())
    expect(r.status).toBe(200)
    const scan = await dynamo.client.send(new ScanCommand({ TableName: dynamo.table }))
    const replay = (scan.Items ?? []).filter((i) => i.pk?.S?.startsWith('replay#'))
    expect(replay.length).toBeGreaterThanOrEqual(1)
    expect(replay[0]?.expiresAt?.N).toMatch(/^\d+$/)
  })

  it('introspects a live token through the other instance (before any revocation exists)', async () => {
    const admin = (await exchange(urlA, await devToken('ops'), urlA)).body.access_token as string
    const user = (await exchange(urlA, await devToken())).body.access_token as string
    const info = await adminCall(urlB, '/introspect', admin, { token: user })
    expect(info.body).toMatchObject({ active: true, client_id: 'deploy-app', sub: SUB, token_type: 'Bearer' })
  })

  it('replay is refused across two broker processes sharing the table', async () => {
    const token = await devToken()
    expect((await exchange(urlA, token)).status).toBe(200)
    const again = await exchange(urlB, token)
    expect(again.status).toBe(400)
    expect(again.body.error).toBe('invalid_request')
    expect(again.body.access_token).toBeUndefined()
  })

  it('store outage: 503 with Retry-After and nothing minted; resumes after restart without restarting the broker', async () => {
    await dynamo.stop()
    try {
      const down = await exchange(urlA, await devToken())
      expect(down.status).toBe(503)
      expect(down.body.error).toBe('temporarily_unavailable')
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(down.body.access_token).toBeUndefined()
    } finally {
      await dynamo.restart()
    }
    expect((await exchange(urlA, await devToken())).status).toBe(200)
  })

  it('revoking a policy refuses issuance at once; its earlier tokens are inactive', async () => {
    const admin = (await exchange(urlA, await devToken('ops'), urlA)).body.access_token as string
    expect(admin).toBeTruthy()
    const minted = (await exchange(urlA, await devToken())).body.access_token as string
    const revoked = await adminCall(urlA, '/revoke', admin, { policy: 'deploy-app' })
    expect(revoked).toMatchObject({ status: 200, body: { status: 'revoked', target: 'policy' } })
    const refused = await exchange(urlA, await devToken())
    expect(refused.status).toBe(400)
    expect(refused.body.error_description).toMatch(/revoked/)
    // Same instance: its own revocation is visible at once (other instances: within 10 s, unit-tested).
    expect(await adminCall(urlA, '/introspect', admin, { token: minted })).toEqual({
      status: 200,
      body: { active: false },
    })
    const lifted = await adminCall(urlA, '/revoke', admin, { policy: 'deploy-app', lift: 'true' })
    expect(lifted.body.status).toBe('lifted')
    expect((await exchange(urlA, await devToken())).status).toBe(200)
    // Lifting restores issuance only: the token minted before the revocation stays revoked.
    expect((await adminCall(urlA, '/introspect', admin, { token: minted })).body).toEqual({ active: false })
  })

  it('tessera revoke (CLI) revokes and lifts a subject', async () => {
    const admin = (await exchange(urlA, await devToken('ops'), urlA)).body.access_token as string
    const base = ['revoke', '--url', urlA, '--admin-token', admin, '--sub', SUB, '--provider', 'dev']
    const r = await runCli(base, { cwd })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('revoked: subject')
    expect((await exchange(urlA, await devToken())).status).toBe(400)
    expect((await runCli([...base, '--lift'], { cwd })).code).toBe(0)
    expect((await exchange(urlA, await devToken())).status).toBe(200)
  })

  it('admin endpoints refuse a non-admin token (401 without, 403 wrong scope)', async () => {
    const user = (await exchange(urlA, await devToken())).body.access_token as string
    const res = await fetch(`${urlA}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    })
    expect(res.status).toBe(401)
    // A deploy-app token's aud is the API, not the broker: invalid for admin calls.
    expect((await adminCall(urlA, '/introspect', user, { token: user })).status).toBe(401)
  })
})

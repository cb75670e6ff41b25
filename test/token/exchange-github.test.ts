import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { createLoggerAuditSink, MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import type { AuditSink } from '../../lib/audit/types.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { BrokerError } from '../../lib/errors.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { captureStdout } from '../audit/capture-stdout.js'
import type { GithubFake } from '../fakes/github.js'
import { appKey, hashed, startFake } from '../github/github-fixture.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

const BROKER = 'https://sts.example.com'
const SUB = 'repo:acme/app:ref:refs/heads/main'

let issuer: TestIssuer
let github: GithubFake
let dir: string
beforeAll(async () => {
  issuer = await startTestIssuer({ alg: 'ES256' })
  github = await startFake(Date.now)
  dir = mkdtempSync(join(tmpdir(), 'tessera-gh-exchange-'))
  const pem = join(dir, 'app.pem')
  writeFileSync(pem, appKey.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string, { mode: 0o600 })
  chmodSync(pem, 0o600)
})
afterAll(async () => {
  await Promise.all([issuer.close(), github.close()])
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => github.reset())

async function setup(audit: AuditSink = new MemoryAuditSink()) {
  const yaml = `issuer: ${BROKER}
providers:
  - { name: ci, kind: oidc, issuer: ${issuer.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
github:
  apps:
    - { name: ci-bot, appId: "123456", privateKey: { local: app.pem }, apiUrl: ${github.url} }
policies:
  - name: build
    provider: ci
    match: { sub: "${SUB}" }
    grant:
      github: { app: ci-bot, owner: acme, repositories: [app, infra], permissions: { contents: write, pull_requests: write } }
`
  const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  const metrics = new MemoryTelemetry()
  const broker = await createBroker(loadConfigText(yaml, 'github.yaml'), {
    audit,
    metrics,
    keys: { active: signer, publicKeys: [signer.publicJwk] },
    baseDir: dir,
  })
  return { broker, metrics }
}

let n = 0
function request(token: string, extra: Record<string, string>): HttpRequest {
  const form = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    ...extra,
  }
  return {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `req-${++n}`,
  }
}

async function refused(broker: Broker, req: HttpRequest): Promise<BrokerError> {
  const err = await exchangeToken(broker, req).then(
    (res: HttpResponse) => new Error(`expected a refusal, got ${res.status} ${res.body}`),
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw err
  return err
}

const subjectToken = () => issuer.sign({ sub: SUB, aud: BROKER })
const OWNER = () => `${github.url}/acme`

describe('POST /token with a github grant', () => {
  it('the owner URL: an installation token for every repository of the grant, audited by hash', async () => {
    const audit = new MemoryAuditSink()
    const { broker } = await setup(audit)
    const res = await exchangeToken(broker, request(await subjectToken(), { resource: OWNER() }))
    expect(res.status).toBe(200)
    const body = JSON.parse(res.body) as Record<string, unknown>
    const token = body.access_token as string
    expect(body).toEqual({
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: 'contents:write metadata:read pull_requests:write',
      repositories: ['app', 'infra'],
    })
    const event = audit.events.find((e) => e.event === 'token.exchange')
    expect(event).toMatchObject({
      policy: 'build',
      github: { app: 'ci-bot', owner: 'acme', repositories: ['app', 'infra'] },
      issued_token_hash: hashed(token),
    })
    expect(JSON.stringify(audit.events)).not.toContain(token)
  })

  it('the broker revokes at GitHub what it minted (its githubTokens, as /revoke uses them)', async () => {
    const { broker } = await setup()
    const res = await exchangeToken(broker, request(await subjectToken(), { resource: OWNER() }))
    const token = (JSON.parse(res.body) as { access_token: string }).access_token
    const revoker = broker.githubTokens
    if (!revoker) throw new Error('a broker with github.apps has a revoker')
    expect(await revoker.revoke(revoker.resolveApp(undefined), token)).toBe('revoked')
    expect(github.tokenValid(token)).toBe(false)
  })

  it('a repository URL and a scope narrow what GitHub is asked for', async () => {
    const { broker } = await setup()
    const res = await exchangeToken(
      broker,
      request(await subjectToken(), { resource: `${OWNER()}/infra`, scope: 'contents:read' }),
    )
    expect(JSON.parse(res.body)).toMatchObject({
      scope: 'contents:read metadata:read',
      repositories: ['infra'],
    })
    const post = github.requests.find((r) => r.route === 'access-tokens')
    expect(JSON.parse(post?.body ?? '')).toEqual({
      repositories: ['infra'],
      permissions: { contents: 'read' },
    })
  })

  it('the token never reaches a log line (real logger, stdout and stderr captured)', async () => {
    let token = ''
    const lines = await captureStdout(async () => {
      const { broker } = await setup(createLoggerAuditSink())
      const res = await exchangeToken(broker, request(await subjectToken(), { resource: OWNER() }))
      token = (JSON.parse(res.body) as { access_token: string }).access_token
    })
    expect(token).toMatch(/^ghs_/)
    expect(lines.some((l) => l.includes(hashed(token)))).toBe(true)
    expect(lines.join('\n')).not.toContain(token)
  })

  it('a repository outside the grant: invalid_target before any GitHub call; the subject token stays usable', async () => {
    const { broker } = await setup()
    const token = await subjectToken()
    const err = await refused(broker, request(token, { resource: `${OWNER()}/secrets` }))
    expect(err.code).toBe('invalid_target')
    expect(github.calls()).toBe(0)
    const res = await exchangeToken(broker, request(token, { resource: OWNER() }))
    expect(res.status).toBe(200)
  })

  it('a permission above the grant: invalid_scope before any GitHub call', async () => {
    const { broker } = await setup()
    const err = await refused(
      broker,
      request(await subjectToken(), { resource: OWNER(), scope: 'contents:admin' }),
    )
    expect(err.code).toBe('invalid_scope')
    expect(github.calls()).toBe(0)
  })

  it('another owner: invalid_target before any GitHub call', async () => {
    const { broker } = await setup()
    const err = await refused(broker, request(await subjectToken(), { resource: `${github.url}/evil` }))
    expect(err.code).toBe('invalid_target')
    expect(github.calls()).toBe(0)
  })

  it('GitHub refuses the app JWT: 503, ERROR audit github.app_auth_failed, github_errors counted', async () => {
    const audit = new MemoryAuditSink()
    const { broker, metrics } = await setup(audit)
    github.fail('401', { route: 'org-installation' })
    const err = await refused(broker, request(await subjectToken(), { resource: OWNER() }))
    expect(err.status).toBe(503)
    expect(audit.events.map((e) => [e.event, e.level])).toEqual([
      ['github.app_auth_failed', 'ERROR'],
      ['token.denied', 'ERROR'],
    ])
    expect(metrics.records.some((r) => r.name === 'github_errors')).toBe(true)
  })

  it('GitHub rate limits: 503 with Retry-After', async () => {
    const { broker, metrics } = await setup()
    github.fail('429', { route: 'access-tokens', retryAfter: 9 })
    const err = await refused(broker, request(await subjectToken(), { resource: OWNER() }))
    expect(err.status).toBe(503)
    expect(err.headers['Retry-After']).toBe('9')
    expect(metrics.records.some((r) => r.name === 'throttles')).toBe(true)
  })

  it('GitHub says the installation lacks a repository (422): invalid_target, nothing minted', async () => {
    const { broker } = await setup()
    github.fail('404', { route: 'access-tokens' })
    const err = await refused(broker, request(await subjectToken(), { resource: OWNER() }))
    expect(err.code).toBe('invalid_target')
    expect(github.tokens).toHaveLength(0)
  })
})

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { exchangeCommand } from '../../lib/cli/exchange.js'
import { captureStdout } from '../audit/capture-stdout.js'
import { runSpec } from '../cli/run-command.js'
import type { GithubFake } from '../fakes/github.js'
import { appKey, startFake } from '../github/github-fixture.js'
import { expectRejected, goodClaims, type Harness, startHarness } from './harness.js'

/** Runs `tessera exchange` in-process: its stdout on success, else an error with its stderr and exit code. */
async function runExchange(argv: string[]): Promise<string> {
  const r = await runSpec(exchangeCommand, argv, { fetch: (...a) => globalThis.fetch(...a), env: {} })
  if (r.code !== 0)
    throw Object.assign(new Error(r.stderr.trim() || r.stdout.trim()), { code: r.code, stdout: r.stdout })
  return r.stdout.replace(/\n$/, '')
}

// Black box: the local HTTP server in front of a broker with a GitHub App (local PEM) whose API is
// the loopback GitHub fake; the CLI client answers as git's credential helper.
let github: GithubFake
let h: Harness
let dir: string

beforeAll(async () => {
  github = await startFake(Date.now)
  dir = mkdtempSync(join(tmpdir(), 'tessera-gh-e2e-'))
  const pem = join(dir, 'app.pem')
  writeFileSync(pem, appKey.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string, { mode: 0o600 })
  chmodSync(pem, 0o600)
  h = await startHarness({
    policies: `github:
  apps:
    - { name: ci-bot, appId: "123456", privateKey: { local: ${pem} }, apiUrl: ${github.url} }
policies:
  - name: build
    provider: ci
    match: { sub: "repo:acme/app:ref:refs/heads/main", repository_owner_id: "123456" }
    grant:
      github: { app: ci-bot, owner: acme, repositories: [app, infra], permissions: { contents: read } }
`,
  })
})
afterAll(async () => {
  await Promise.all([h.close(), github.close()])
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => github.reset())

const OWNER = () => `${github.url}/acme`
const subject = () => h.issuer.sign(goodClaims(h))
const form = async (extra: Record<string, string>) => {
  const { audience: _, ...rest } = h.exchangeForm(await subject(), extra)
  return rest
}

describe('GitHub installation tokens over HTTP', () => {
  it('POST /token resource=<owner URL> answers an installation token, not cacheable', async () => {
    const res = await h.post(await form({ resource: OWNER() }))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: 'contents:read metadata:read',
      repositories: ['app', 'infra'],
    })
    expect(github.tokenValid(body.access_token as string)).toBe(true)
  })

  it('a repository outside the grant: 400 invalid_target, GitHub never called', async () => {
    const res = await h.post(await form({ resource: `${OWNER()}/secrets` }))
    const description = await expectRejected(res, 400, 'invalid_target')
    expect(description).not.toMatch(/["\\]/)
    expect(github.calls()).toBe(0)
  })

  it('a write scope over a read grant: 400 invalid_scope, GitHub never called', async () => {
    await expectRejected(
      await h.post(await form({ resource: OWNER(), scope: 'contents:write' })),
      400,
      'invalid_scope',
    )
    expect(github.calls()).toBe(0)
  })

  it('GitHub rate limited: 503 with its Retry-After', async () => {
    github.fail('rate-limit-403', { route: 'access-tokens', retryAfter: 17 })
    const body = await form({ resource: OWNER() })
    let res: Response | undefined
    const logs = await captureStdout(async () => {
      res = await h.post(body)
    })
    expect(logs.filter((l) => l.includes('"level":"ERROR"'))).toHaveLength(1)
    await expectRejected(res as Response, 503, 'temporarily_unavailable')
    expect((res as Response).headers.get('retry-after')).toBe('17')
  })
})

describe('tessera exchange against the broker', () => {
  it('--format git-credential answers git with x-access-token and the token', async () => {
    const out = await runExchange([
      '--url',
      h.url,
      '--token',
      await subject(),
      '--resource',
      `${OWNER()}/infra`,
      '--format',
      'git-credential',
      'get',
    ])
    const lines = out.split('\n')
    expect(lines[0]).toBe('username=x-access-token')
    const token = lines[1]?.replace('password=', '') ?? ''
    expect(github.tokenValid(token)).toBe(true)
    expect(lines[2]).toMatch(/^password_expiry_utc=\d+$/)
    const post = github.requests.find((r) => r.route === 'access-tokens')
    expect(JSON.parse(post?.body ?? '')).toMatchObject({ repositories: ['infra'] })
  })

  it('--format env prints GH_TOKEN and GITHUB_TOKEN (and selects the grant only by --resource)', async () => {
    const out = await runExchange([
      '--url',
      h.url,
      '--token',
      await subject(),
      '--resource',
      OWNER(),
      '--format',
      'env',
    ])
    expect(out).toMatch(/^export GH_TOKEN='ghs_[^']+'\nexport GITHUB_TOKEN='ghs_[^']+'$/)
  })
})

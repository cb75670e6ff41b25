import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createGithubMinter } from '../../lib/credentials/github.js'
import { BrokerError, GithubAppAuthFailed, InvalidTarget, TemporarilyUnavailable } from '../../lib/errors.js'
import type { GithubFake } from '../fakes/github.js'
import {
  auditSink,
  clock,
  countingSigner,
  githubConfig,
  grant,
  hashed,
  mintContext,
  SUBJECT,
  startFake,
} from '../github/github-fixture.js'

const time = clock()
let fake: GithubFake
const ctx = () => mintContext({ now: time.now() })

beforeAll(async () => {
  fake = await startFake(time.now)
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

async function minter(extra: { deadlineMs?: number } = {}) {
  const { signer, signs } = await countingSigner()
  const audit = auditSink()
  const m = createGithubMinter(githubConfig(fake.url), {
    now: time.now,
    audit: audit.sink,
    loadSigner: async () => signer,
    ...extra,
  })
  return { m, signs, audit }
}

async function failure(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw new Error(`expected a BrokerError, got ${String(err)}`)
  return err
}

describe('github minter: mints narrowed installation tokens', () => {
  it('asks GitHub for exactly the grant and answers per contract', async () => {
    const { m, audit } = await minter()
    const out = await m.mint(
      grant({ repositories: ['app', 'infra'], permissions: { contents: 'read', pull_requests: 'write' } }),
      SUBJECT,
      ctx(),
    )
    const token = out.body.access_token as string
    expect(token).toMatch(/^ghs_/)
    expect(fake.tokenValid(token)).toBe(true)
    expect(out.body).toEqual({
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'contents:read metadata:read pull_requests:write',
      repositories: ['app', 'infra'],
    })
    const post = fake.requests.find((r) => r.route === 'access-tokens')
    expect(JSON.parse(post?.body ?? '')).toEqual({
      repositories: ['app', 'infra'],
      permissions: { contents: 'read', pull_requests: 'write' },
    })
    expect(post?.headers['user-agent']).toBeTruthy()
    expect(out.granted).toEqual({
      github: {
        app: 'ci-bot',
        owner: 'acme',
        repositories: ['app', 'infra'],
        permissions: { contents: 'read', pull_requests: 'write', metadata: 'read' },
        expires_at: new Date(time.now() + 3600_000).toISOString().replace('.000Z', 'Z'),
      },
      issued_token_hash: hashed(token),
    })
    expect(JSON.stringify(out.granted)).not.toContain(token)
    expect(audit.events).toEqual([])
  })

  it('a ["*"] grant sends no repository list and answers without repositories', async () => {
    const { m } = await minter()
    const out = await m.mint(grant({ owner: 'octocat', repositories: '*' }), SUBJECT, ctx())
    expect(out.body.repositories).toBeUndefined()
    const post = fake.requests.find((r) => r.route === 'access-tokens')
    expect(JSON.parse(post?.body ?? '')).toEqual({ permissions: { contents: 'read' } })
    // octocat is a user account: the org lookup 404s, then the user lookup finds it.
    expect(fake.calls('org-installation')).toBe(1)
    expect(fake.calls('user-installation')).toBe(1)
  })

  it('50 concurrent exchanges: one app JWT signature, one installation lookup, 50 token calls', async () => {
    const { m, signs } = await minter()
    const outs = await Promise.all(Array.from({ length: 50 }, () => m.mint(grant(), SUBJECT, ctx())))
    expect(new Set(outs.map((o) => o.body.access_token)).size).toBe(50)
    expect(signs()).toBe(1)
    expect(fake.calls('org-installation')).toBe(1)
    expect(fake.calls('access-tokens')).toBe(50)
  })

  it('reuses the app JWT until 60 s before exp (about 8 minutes) and the installation for 10 minutes', async () => {
    const { m, signs } = await minter()
    await m.mint(grant(), SUBJECT, ctx())
    time.advance(7 * 60_000 + 59_000)
    await m.mint(grant(), SUBJECT, ctx())
    expect(signs()).toBe(1)
    time.advance(2_000) // 8 min 1 s after signing: within 60 s of exp
    await m.mint(grant(), SUBJECT, ctx())
    expect(signs()).toBe(2)
    expect(fake.calls('org-installation')).toBe(1)
    time.advance(2 * 60_000) // 10 min 1 s after the lookup
    await m.mint(grant(), SUBJECT, ctx())
    expect(fake.calls('org-installation')).toBe(2)
  })

  it('retries a GitHub 5xx and a dropped connection within the budget', async () => {
    const { m } = await minter()
    fake.fail('502', { route: 'access-tokens' })
    fake.fail('drop', { route: 'access-tokens' })
    const out = await m.mint(grant(), SUBJECT, ctx())
    expect(out.body.access_token).toMatch(/^ghs_/)
    expect(fake.calls('access-tokens')).toBe(3)
  })
})

describe('github minter: refusals (400 invalid_target)', () => {
  it('no installation on the owner (org and user both 404): no token call', async () => {
    const { m } = await minter()
    const err = await failure(m.mint(grant({ owner: 'nobody' }), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(InvalidTarget)
    expect(err.message).toMatch(/not installed on the account nobody/)
    expect(fake.calls('access-tokens')).toBe(0)
  })

  it('a repository the installation does not have (GitHub 422)', async () => {
    const { m } = await minter()
    const err = await failure(m.mint(grant({ repositories: ['secret'] }), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(InvalidTarget)
    expect(err.message).not.toMatch(/["\\]/)
  })

  it('a permission above the installation (GitHub 422)', async () => {
    const { m } = await minter()
    const err = await failure(m.mint(grant({ permissions: { issues: 'write' } }), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(InvalidTarget)
    expect(fake.tokens).toHaveLength(0)
  })

  it('an installation id GitHub no longer knows (404) is invalid_target and looked up again next time', async () => {
    const { m } = await minter()
    await m.mint(grant(), SUBJECT, ctx())
    fake.fail('404', { route: 'access-tokens' })
    expect(await failure(m.mint(grant(), SUBJECT, ctx()))).toBeInstanceOf(InvalidTarget)
    expect(fake.calls('org-installation')).toBe(1)
    await m.mint(grant(), SUBJECT, ctx())
    expect(fake.calls('org-installation')).toBe(2)
  })

  it('an unknown app (config bypassed) is refused without any call', async () => {
    const { m } = await minter()
    const err = await failure(m.mint(grant({ app: 'nope' }), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(InvalidTarget)
    expect(fake.calls()).toBe(0)
  })
})

describe('github minter: GitHub failures (503)', () => {
  it('401 on the lookup: 503, an ERROR audit github.app_auth_failed, not retried, JWT re-signed next time', async () => {
    const { m, signs, audit } = await minter()
    fake.fail('401', { route: 'org-installation' })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(GithubAppAuthFailed)
    expect(err.status).toBe(503)
    expect(fake.calls('org-installation')).toBe(1)
    expect(audit.events).toEqual([
      expect.objectContaining({
        event: 'github.app_auth_failed',
        level: 'ERROR',
        request_id: 'req-1',
        app: 'ci-bot',
      }),
    ])
    await m.mint(grant(), SUBJECT, ctx())
    expect(signs()).toBe(2)
  })

  it('401 on the token call: the same', async () => {
    const { m, audit } = await minter()
    fake.fail('401', { route: 'access-tokens' })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err.status).toBe(503)
    expect(fake.calls('access-tokens')).toBe(1)
    expect(audit.events.map((e) => e.event)).toEqual(['github.app_auth_failed'])
  })

  it('403 secondary rate limit: 503 with its retry-after, not retried', async () => {
    const { m } = await minter()
    fake.fail('rate-limit-403', { route: 'access-tokens', retryAfter: 42 })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(err.headers['Retry-After']).toBe('42')
    expect(fake.calls('access-tokens')).toBe(1)
  })

  it('403 primary rate limit: Retry-After from x-ratelimit-reset', async () => {
    const { m } = await minter()
    fake.fail('rate-limit-reset', { route: 'org-installation', retryAfter: 120 })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err.status).toBe(503)
    expect(err.headers['Retry-After']).toBe('120')
  })

  it('429: 503 with its retry-after', async () => {
    const { m } = await minter()
    fake.fail('429', { route: 'access-tokens', retryAfter: 7 })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err.headers['Retry-After']).toBe('7')
  })

  it('5xx on every attempt: 503 after 3 attempts', async () => {
    const { m } = await minter()
    fake.fail('500', { route: 'access-tokens', count: 3 })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err.status).toBe(503)
    expect(fake.calls('access-tokens')).toBe(3)
    expect(fake.tokens).toHaveLength(0)
  })

  it('dropped connections on every attempt: 503', async () => {
    const { m } = await minter()
    fake.fail('drop', { route: 'org-installation', count: 3 })
    expect((await failure(m.mint(grant(), SUBJECT, ctx()))).status).toBe(503)
  })

  it('a GitHub that never answers: 503 once the budget is spent', async () => {
    const { m } = await minter({ deadlineMs: 300 })
    fake.fail('hang', { route: 'access-tokens', count: 3 })
    const err = await failure(m.mint(grant(), SUBJECT, ctx()))
    expect(err).toBeInstanceOf(TemporarilyUnavailable)
    expect(err.detail).toMatch(/timeout/)
  })

  it('an App key that cannot be loaded: 503, and loading is tried again next time', async () => {
    let tries = 0
    const m = createGithubMinter(githubConfig(fake.url), {
      now: time.now,
      loadSigner: async () => {
        tries++
        throw new Error('no such key')
      },
    })
    expect((await failure(m.mint(grant(), SUBJECT, ctx()))).status).toBe(503)
    expect((await failure(m.mint(grant(), SUBJECT, ctx()))).status).toBe(503)
    expect(tries).toBe(2)
    expect(fake.calls()).toBe(0)
  })
})

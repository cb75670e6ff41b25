import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AdminDeps } from '../../lib/admin/deps.js'
import { createGithubMinter } from '../../lib/credentials/github.js'
import { revoke } from '../../lib/endpoints/revoke.js'
import { BrokerError, InvalidRequest } from '../../lib/errors.js'
import { createGithubTokenRevoker } from '../../lib/github/revoke-token.js'
import { adminFixture } from '../admin/admin-fixture.js'
import type { GithubFake } from '../fakes/github.js'
import {
  countingSigner,
  githubConfig,
  grant,
  hashed,
  mintContext,
  SUBJECT,
  startFake,
} from '../github/github-fixture.js'

type Fixture = Awaited<ReturnType<typeof adminFixture>>

let fake: GithubFake
beforeAll(async () => {
  fake = await startFake(Date.now)
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

async function setup(apps = githubConfig('')) {
  const f = await adminFixture()
  const config = { apps: apps.apps.map((a) => ({ ...a, apiUrl: fake.url })) }
  const github = createGithubTokenRevoker(config, { fetch: globalThis.fetch, now: Date.now })
  const deps = { ...f.deps, githubTokens: github }
  const { signer } = await countingSigner()
  const minter = createGithubMinter(config, { loadSigner: async () => signer })
  const mint = async () => (await minter.mint(grant(), SUBJECT, mintContext())).body.access_token as string
  const call = async (f2: Fixture, form: Record<string, string>, d: AdminDeps = deps) => {
    const bearer = await f2.adminToken(['tessera:revoke'])
    const res = await revoke(d, f2.request('/revoke', form, `Bearer ${bearer}`))
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> }
  }
  return { f, deps, mint, call }
}

async function refused(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof BrokerError)) throw new Error(`expected a BrokerError, got ${String(err)}`)
  return err
}

const TWO_APPS = {
  apps: [
    { name: 'ci-bot', appId: '123456', privateKey: { kms: 'k' }, apiUrl: '' },
    { name: 'docs-bot', appId: '9', privateKey: { kms: 'k2' }, apiUrl: '' },
  ],
}

describe('revoke: GitHub installation tokens', () => {
  it('token=ghs_… calls DELETE /installation/token with that token; GitHub no longer accepts it', async () => {
    const { f, mint, call } = await setup()
    const token = await mint()
    const out = await call(f, { token })
    expect(out.status).toBe(200)
    expect(out.body).toMatchObject({ status: 'revoked', target: 'github_installation_token', app: 'ci-bot' })
    expect(fake.tokenValid(token)).toBe(false)
    const event = f.audit.events.at(-1)
    expect(event).toMatchObject({ event: 'revocation.added', issued_token_hash: hashed(token) })
    expect(JSON.stringify(f.audit.events)).not.toContain(token)
  })

  it('an already revoked or unknown token is still a 200 (inactive)', async () => {
    const { f, mint, call } = await setup()
    const token = await mint()
    await call(f, { token })
    expect((await call(f, { token })).body).toMatchObject({ status: 'inactive' })
    expect((await call(f, { token: 'ghs_neverissued000000000000000000000' })).body).toMatchObject({
      status: 'inactive',
    })
  })

  it('token_type_hint=github_installation_token sends a token without the prefix to GitHub', async () => {
    const { f, call } = await setup()
    const out = await call(f, { token: 'legacy-token', token_type_hint: 'github_installation_token' })
    expect(out.body).toMatchObject({ status: 'inactive', target: 'github_installation_token' })
    expect(fake.calls('revoke')).toBe(1)
  })

  it('with several Apps, app= picks one', async () => {
    const { f, mint, call } = await setup(TWO_APPS)
    const token = await mint()
    expect((await call(f, { token, app: 'ci-bot' })).body).toMatchObject({ status: 'revoked', app: 'ci-bot' })
  })

  it('with several Apps and no app=: 400 invalid_request, nothing sent', async () => {
    const { f, mint, call } = await setup(TWO_APPS)
    const err = await refused(call(f, { token: await mint() }))
    expect(err).toBeInstanceOf(InvalidRequest)
    expect(err.message).toMatch(/several GitHub Apps/)
    expect(fake.calls('revoke')).toBe(0)
  })

  it('an app that is not configured: 400', async () => {
    const { f, call } = await setup()
    const err = await refused(call(f, { token: 'ghs_x', app: 'nope' }))
    expect(err.message).toBe('no GitHub App named nope is configured')
  })

  it('no App configured at all: 400', async () => {
    const { f, call } = await setup({ apps: [] })
    expect((await refused(call(f, { token: 'ghs_x' }))).status).toBe(400)
    expect((await refused(call(f, { token: 'ghs_x' }, f.deps))).status).toBe(400)
  })

  it('lift=true does not apply to an installation token', async () => {
    const { f, call } = await setup()
    expect((await refused(call(f, { token: 'ghs_x', lift: 'true' }))).message).toMatch(/cannot be un-revoked/)
  })

  it('GitHub down: 503 (retried 3 times), not a 200', async () => {
    const { f, mint, call } = await setup()
    const token = await mint()
    fake.fail('502', { route: 'revoke', count: 3 })
    expect((await refused(call(f, { token }))).status).toBe(503)
    expect(fake.tokenValid(token)).toBe(true)
  })

  it('a token with control characters or spaces never reaches GitHub', async () => {
    const { f, call } = await setup()
    expect((await refused(call(f, { token: 'ghs_a\r\nX-Evil: 1' }))).status).toBe(400)
    expect((await call(f, { token: 'ghs_a b' })).body).toMatchObject({ status: 'inactive' })
    expect(fake.calls('revoke')).toBe(0)
  })

  it('without the revoke scope nothing is sent to GitHub', async () => {
    const { f, deps } = await setup()
    const bearer = await f.adminToken(['tessera:introspect'])
    await expect(revoke(deps, f.request('/revoke', { token: 'ghs_x' }, `Bearer ${bearer}`))).rejects.toThrow()
    expect(fake.calls()).toBe(0)
  })
})

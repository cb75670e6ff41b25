import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runInventory } from '../../lib/cli/inventory.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { goodClaims, type Harness, startHarness } from './harness.js'

let h: Harness
const presented: string[] = []
beforeAll(async () => {
  h = await startHarness()
  // Three allowed exchanges (one narrowed to deploy:read), one release, one denied identity.
  for (const extra of [{ scope: 'deploy:read' }, { scope: 'deploy:read' }, {}]) {
    const token = await h.issuer.sign(goodClaims(h))
    presented.push(token)
    expect((await h.post(h.exchangeForm(token, extra))).status).toBe(200)
  }
  const release = await h.issuer.sign({ sub: 'repo:acme/app:ref:refs/heads/release/1', aud: h.url })
  expect((await h.post(h.exchangeForm(release, { audience: 'https://releases.example.com' }))).status).toBe(
    200,
  )
  const denied = await h.issuer.sign({ sub: 'repo:evil/app:ref:refs/heads/main', aud: h.url })
  expect((await h.post(h.exchangeForm(denied))).status).toBe(400)
  presented.push(release, denied)
})
afterAll(() => h.close())

const adminToken = async (scopes: string[]) =>
  (
    await mintAccessToken(h.broker.keys.active, {
      issuer: h.url,
      sub: 'ops@example.com',
      audience: [h.url],
      scopes,
      ttl: 300,
      clientId: 'admin',
      idp: 'corp',
      now: Date.now(),
    })
  ).token

async function inventory(args: string[]) {
  let out = ''
  const err: string[] = []
  const code = await runInventory(args, {
    fetch: (...a) => globalThis.fetch(...a),
    out: (t) => {
      out += t
    },
    err: (l) => err.push(l),
  })
  return { code, out, err: err.join('\n') }
}

describe('tessera inventory against tessera serve', () => {
  it('json: exact counts, the never-used grant and the findings', async () => {
    const token = await adminToken(['tessera:inventory'])
    const r = await inventory(['--url', h.url, '--admin-token', token, '--format', 'json'])
    expect(r.code).toBe(0)
    const body = JSON.parse(r.out)
    const app = body.identities.find((i: { sub: string }) => i.sub === 'repo:acme/app:ref:refs/heads/main')
    expect(app).toMatchObject({ provider: 'ci', exchanges: 3, denied: 0 })
    expect(
      body.identities.find((i: { sub: string }) => i.sub === 'repo:evil/app:ref:refs/heads/main'),
    ).toMatchObject({
      exchanges: 0,
      denied: 1,
    })
    const deploy = body.policies.find((p: { name: string }) => p.name === 'deploy-app')
    expect(deploy.exchanges_per_day.reduce((n: number, d: { count: number }) => n + d.count, 0)).toBe(3)
    const kinds = body.findings.map((f: { kind: string; subject: string }) => `${f.kind} ${f.subject}`)
    expect(kinds).toContain('policy-unused workflow')
    expect(kinds).not.toContain('policy-unused deploy-app')
    for (const t of [...presented, token]) expect(r.out).not.toContain(t)
  })

  it('table, csv and html formats; --out writes a 0600 file', async () => {
    const token = await adminToken(['tessera:inventory'])
    const table = await inventory(['--url', h.url, '--admin-token', token])
    expect(table.out).toContain('Identities (3)')
    const csv = await inventory(['--url', h.url, '--admin-token', token, '--format', 'csv'])
    expect(csv.out.split('\r\n')[0]).toBe(
      'record,name,provider_or_kind,first_seen,last_seen,exchanges,denied,detail',
    )
    const dir = await mkdtemp(join(tmpdir(), 'tessera-inv-'))
    const file = join(dir, 'report.html')
    const html = await inventory(['--url', h.url, '--admin-token', token, '--format', 'html', '--out', file])
    expect(html.code).toBe(0)
    expect(html.out).toBe('')
    expect(await readFile(file, 'utf8')).toContain('<svg')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('refused without the inventory scope (exit 1, the OAuth error on stderr)', async () => {
    const r = await inventory(['--url', h.url, '--admin-token', await adminToken(['tessera:revoke'])])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^insufficient_scope: /)
  })

  it('refused with a token that is not Tessera-signed', async () => {
    const r = await inventory(['--url', h.url, '--admin-token', 'eyJhbGciOiJub25lIn0.e30.'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^invalid_token: /)
  })

  it('an unreachable broker exits 1 naming the URL', async () => {
    const r = await inventory(['--url', 'http://127.0.0.1:9', '--admin-token', 'x'])
    expect(r.code).toBe(1)
    expect(r.err).toContain('http://127.0.0.1:9/inventory')
  })

  it('usage errors exit 2: no url, bad format, bad window, plain http to a remote host', async () => {
    for (const argv of [
      ['--admin-token', 'x'],
      ['--url', h.url],
      ['--url', h.url, '--admin-token', 'x', '--format', 'pdf'],
      ['--url', h.url, '--admin-token', 'x', '--unused', 'forever'],
      ['--url', 'http://sts.example.com', '--admin-token', 'x'],
    ]) {
      expect((await inventory(argv)).code).toBe(2)
    }
  })

  it('--help prints usage with examples, exit 0', async () => {
    const r = await inventory(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('usage: tessera inventory')
  })
})

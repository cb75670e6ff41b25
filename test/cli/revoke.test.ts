import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { revokeCommand } from '../../lib/cli/revoke.js'
import { revoke } from '../../lib/endpoints/revoke.js'
import { errorResponse } from '../../lib/http/respond.js'
import { adminFixture } from '../admin/admin-fixture.js'
import { runSpec } from './run-command.js'

type Fixture = Awaited<ReturnType<typeof adminFixture>>

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  server = undefined
})

/** A loopback broker front: metadata (override-able) plus the real /revoke core. */
async function serve(f: Fixture, meta?: (base: string) => unknown) {
  let base = ''
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    let out: { status: number; headers: Record<string, string>; body: string }
    if (req.url === '/.well-known/oauth-authorization-server') {
      out = {
        status: 200,
        headers: {},
        body: JSON.stringify(meta ? meta(base) : { issuer: base, revocation_endpoint: `${base}/revoke` }),
      }
    } else {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v
      try {
        out = await revoke(
          { ...f.deps, issuer: base },
          {
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            headers,
            body: Buffer.concat(chunks).toString(),
            query: '',
            sourceIp: '127.0.0.1',
            requestId: 'cli-test',
          },
        )
      } catch (err) {
        out = errorResponse(err, 'cli-test')
      }
    }
    res.writeHead(out.status, out.headers).end(out.body)
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`
  return base
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const { port } = probe.address() as AddressInfo
  await new Promise((r) => probe.close(r))
  return port
}

async function run(argv: string[]) {
  const r = await runSpec(revokeCommand, argv, { fetch: globalThis.fetch })
  const lines = (text: string) => text.split('\n').filter(Boolean)
  return { code: r.code, out: lines(r.stdout), err: lines(r.stderr) }
}

describe('tessera revoke', () => {
  it('revokes a policy and lifts it again', async () => {
    const f = await adminFixture()
    const base = await serve(f)
    const admin = await f.adminToken(['tessera:revoke'], { aud: [base], issuer: base })
    const r = await run(['--url', base, '--admin-token', admin, '--policy', 'deploy'])
    expect(r).toEqual({ code: 0, out: ['revoked: policy deploy'], err: [] })
    expect(await f.revocations.blocksIssuance({ provider: 'gha', sub: 's', policy: 'deploy' })).toBe(true)
    const l = await run(['--url', base, '--admin-token', admin, '--policy', 'deploy', '--lift'])
    expect(l.out).toEqual(['lifted: policy deploy'])
    expect(await f.revocations.blocksIssuance({ provider: 'gha', sub: 's', policy: 'deploy' })).toBe(false)
  })

  it('revokes a subject, reading the admin token from @file', async () => {
    const f = await adminFixture()
    const base = await serve(f)
    const file = join(await mkdtemp(join(tmpdir(), 'tessera-')), 'admin.jwt')
    await writeFile(file, `${await f.adminToken(['tessera:revoke'], { aud: [base], issuer: base })}\n`)
    const r = await run([
      '--url',
      `${base}/`,
      '--admin-token',
      `@${file}`,
      '--sub',
      'repo:acme/app',
      '--provider',
      'gha',
    ])
    expect(r.out).toEqual(['revoked: subject repo:acme/app (provider gha)'])
    expect(r.code).toBe(0)
  })

  it('prints the broker error as "<error>: <description>" and exits 1 (wrong scope)', async () => {
    const f = await adminFixture()
    const base = await serve(f)
    const admin = await f.adminToken(['tessera:introspect'], { aud: [base], issuer: base })
    const r = await run(['--url', base, '--admin-token', admin, '--policy', 'deploy'])
    expect(r.code).toBe(1)
    expect(r.err[0]).toMatch(/^insufficient_scope: this call requires scope tessera:revoke/)
    expect(r.err.join('\n')).not.toContain(admin)
  })

  it('exits 1 for an invalid admin token', async () => {
    const f = await adminFixture()
    const base = await serve(f)
    const r = await run(['--url', base, '--admin-token', 'nope', '--policy', 'deploy'])
    expect(r.code).toBe(1)
    expect(r.err[0]).toMatch(/^invalid_token:/)
  })

  it('refuses metadata that sends the admin token to another origin', async () => {
    const f = await adminFixture()
    const base = await serve(f, (b) => ({ issuer: b, revocation_endpoint: 'http://127.0.0.2:9/revoke' }))
    const r = await run(['--url', base, '--admin-token', 'x', '--policy', 'deploy'])
    expect(r.code).toBe(1)
    expect(r.err[0]).toMatch(/another origin/)
  })

  it('refuses metadata naming another issuer', async () => {
    const f = await adminFixture()
    const base = await serve(f, () => ({
      issuer: 'https://else',
      revocation_endpoint: 'https://else/revoke',
    }))
    expect((await run(['--url', base, '--admin-token', 'x', '--policy', 'p'])).err[0]).toMatch(
      /another issuer/,
    )
  })

  it('exits 1 when the broker is unreachable, naming the URL and the cause', async () => {
    const port = await closedPort()
    const r = await run(['--url', `http://127.0.0.1:${port}`, '--admin-token', 'x', '--policy', 'p'])
    expect(r.code).toBe(1)
    expect(r.err).toEqual([
      `tessera revoke: cannot reach http://127.0.0.1:${port}/.well-known/oauth-authorization-server: connect ECONNREFUSED 127.0.0.1:${port} (is tessera serve running there?)`,
    ])
  })

  it('prints usage and examples for --help and -h, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runSpec(revokeCommand, ['--policy', 'p', flag])
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/^usage: tessera revoke --url U --admin-token/)
      expect(r.stdout).toMatch(/\nexamples:\n {2}tessera revoke /)
    }
  })

  const usage: [string, string[]][] = [
    ['no target', ['--url', 'http://127.0.0.1:1', '--admin-token', 'x']],
    ['two targets', ['--url', 'http://127.0.0.1:1', '--admin-token', 'x', '--policy', 'p', '--token', 't']],
    ['sub without provider', ['--url', 'http://127.0.0.1:1', '--admin-token', 'x', '--sub', 's']],
    ['no admin token', ['--url', 'http://127.0.0.1:1', '--policy', 'p']],
    ['an unknown flag', ['--url', 'http://127.0.0.1:1', '--admin-token', 'x', '--policy', 'p', '--force']],
    ['a missing @file', ['--url', 'http://127.0.0.1:1', '--admin-token', '@/nonexistent/x', '--policy', 'p']],
  ]
  for (const [name, argv] of usage) {
    it(`exits 2 for ${name}`, async () => {
      const r = await run(argv)
      expect(r.code).toBe(2)
      expect(r.err[0]).toMatch(/^tessera revoke: /)
    })
  }
})

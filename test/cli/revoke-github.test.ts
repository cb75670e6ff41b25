import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { revokeCommand } from '../../lib/cli/revoke.js'
import { runSpec } from './run-command.js'

// A loopback broker front that records the /revoke form and answers as the broker does for a
// GitHub installation token.
let server: Server
let base = ''
const forms: URLSearchParams[] = []
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ issuer: base, revocation_endpoint: `${base}/revoke` }))
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString())
    forms.push(form)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        status: 'revoked',
        target: 'github_installation_token',
        app: form.get('app') ?? 'ci-bot',
      }),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

async function run(argv: string[]) {
  const r = await runSpec(revokeCommand, argv, { fetch: (...a) => globalThis.fetch(...a) })
  const lines = (t: string) => t.split('\n').filter((l) => l !== '')
  return { code: r.code, out: lines(r.stdout), err: lines(r.stderr) }
}

describe('tessera revoke --token ghs_… [--app A]', () => {
  it('sends the token and the app, and prints what was revoked without the token', async () => {
    const r = await run([
      '--url',
      base,
      '--admin-token',
      'adm',
      '--token',
      'ghs_secret0000000000',
      '--app',
      'docs-bot',
    ])
    expect(r).toEqual({ code: 0, out: ['revoked: GitHub installation token (app docs-bot)'], err: [] })
    expect(forms.at(-1)?.get('token')).toBe('ghs_secret0000000000')
    expect(forms.at(-1)?.get('app')).toBe('docs-bot')
  })

  it('--app without --token is a usage error; nothing is sent', async () => {
    const before = forms.length
    const r = await run(['--url', base, '--admin-token', 'adm', '--policy', 'p', '--app', 'docs-bot'])
    expect(r.code).toBe(2)
    expect(r.err.join('\n')).toMatch(/--app goes with --token/)
    expect(forms.length).toBe(before)
  })
})

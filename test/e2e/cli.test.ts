import type { ChildProcess } from 'node:child_process'
import { mkdtemp, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startServe } from './cli-harness.js'

describe('CLI: the quick-start pipeline on the built-in example', { timeout: 60_000 }, () => {
  let cwd: string
  let serve: { child: ChildProcess; url: string }
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
    serve = await startServe([], cwd)
  })
  afterAll(() => {
    serve?.child.kill()
  })

  it('dev-token | exchange prints a token that jose verifies against the JWKS with typ at+jwt', async () => {
    const token = await runCli(
      ['dev-token', '--url', serve.url, '--sub', 'repo:acme/app:ref:refs/heads/main'],
      { cwd },
    )
    expect(token.code, token.stderr).toBe(0)
    const out = await runCli(
      ['exchange', '--url', serve.url, '--token', '-', '--audience', 'https://api.example.com'],
      { cwd, input: token.stdout },
    )
    expect(out.code, out.stderr).toBe(0)
    const body = JSON.parse(out.stdout)
    const { payload } = await jwtVerify(
      body.access_token,
      createRemoteJWKSet(new URL(`${serve.url}/.well-known/jwks.json`)),
      {
        typ: 'at+jwt',
        issuer: serve.url,
        audience: 'https://api.example.com',
      },
    )
    expect(payload.scope).toBe('deploy:write')
    expect((await stat(join(cwd, '.tessera/signing-key.json'))).mode & 0o777).toBe(0o600)
  })

  it('--format token prints the bare token; a denial exits non-zero with "<error>: <description>" on stderr', async () => {
    const good = await runCli(
      ['dev-token', '--url', serve.url, '--sub', 'repo:acme/app:ref:refs/heads/main'],
      { cwd },
    )
    const out = await runCli(
      [
        'exchange',
        '--url',
        serve.url,
        '--token',
        good.stdout.trim(),
        '--audience',
        'https://api.example.com',
        '--format',
        'token',
      ],
      { cwd },
    )
    expect(out.stdout.trim().split('.')).toHaveLength(3)
    const bad = await runCli(
      ['dev-token', '--url', serve.url, '--sub', 'repo:acme/evil:ref:refs/heads/main'],
      { cwd },
    )
    const denied = await runCli(
      ['exchange', '--url', serve.url, '--token', bad.stdout.trim(), '--audience', 'https://api.example.com'],
      { cwd },
    )
    expect(denied.code).toBe(1)
    expect(denied.stdout).toBe('')
    expect(denied.stderr).toMatch(
      /^invalid_target: no policy grants audience https:\/\/api\.example\.com to this subject \(request id: [\w-]+\)\n$/,
    )
  })

  it('exchange refuses missing arguments and a broker whose metadata names another issuer', async () => {
    expect((await runCli(['exchange', '--url', serve.url, '--token', 'x'], { cwd })).code).toBe(2)
    const wrong = await runCli(['exchange', '--url', `${serve.url}/dev`, '--token', 'x', '--audience', 'a'], {
      cwd,
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/metadata request failed|another issuer/)
  })
})

describe('CLI: serve refuses a bad config and prints the problems', () => {
  it('names the file, the path and the line', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
    await writeFile(
      join(cwd, 'bad.yaml'),
      'issuer: https://sts.example.com\nproviders:\n  - name: x\n    kind: oidc\n    issuer: http://evil.example.com\n',
    )
    const out = await runCli(['serve', '--config', 'bad.yaml', '--port', '0'], { cwd })
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(/bad\.yaml:5:\d+: providers\[0\]\.issuer: issuer must use https/)
  })

  it('refuses a config with policy lint errors and prints the findings', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
    await writeFile(
      join(cwd, 'broad.yaml'),
      `issuer: https://sts.example.com
providers:
  - { name: gh, kind: oidc, preset: github-actions, audiences: [https://sts.example.com] }
policies:
  - name: anyone
    provider: gh
    match: { sub: { glob: "repo:**" } }
    grant: { token: { audience: https://api.example.com } }
`,
    )
    const out = await runCli(['serve', '--config', 'broad.yaml', '--port', '0'], { cwd })
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('refusing to start')
    expect(out.stderr).toMatch(/broad\.yaml:\d+:\d+: .*broad-subject/)
  })

  it('unknown commands exit 2 with usage', async () => {
    const out = await runCli(['frobnicate'], { cwd: tmpdir() })
    expect(out.code).toBe(2)
    expect(out.stderr).toContain('usage: tessera')
  })
})

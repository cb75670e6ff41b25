import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, serveConfig } from './cli-harness.js'

// The README's local walk-through of a GitHub Actions policy, as a user runs it: the example
// config served with --dev-issuer, a token shaped like GitHub's from dev-token --preset.
const EXAMPLE = readFileSync(resolve('examples/github-actions-local.yaml'), 'utf8')
const localExample = (url: string) => EXAMPLE.replaceAll('http://127.0.0.1:8787', url)
const API = 'https://api.example.com'

const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) c.kill()
})

describe('trying a preset provider locally: serve --dev-issuer and dev-token --preset', {
  timeout: 90_000,
}, () => {
  let cwd: string
  let dev: { url: string; stderr: string }
  let strict: { url: string }
  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'tessera-presets-'))
    mkdirSync(join(cwd, 'conf'))
    mkdirSync(join(cwd, 'docs'))
    const a = await serveConfig(cwd, localExample, { args: ['--dev-issuer'], file: 'conf/dev.yaml' })
    const b = await serveConfig(cwd, localExample, { file: 'conf/strict.yaml' })
    children.push(a.child, b.child)
    dev = a
    strict = b
  })

  const presetToken = (url: string, extra: string[] = []) =>
    runCli(['dev-token', '--preset', 'github-actions', '--url', url, ...extra], { cwd: join(cwd, 'docs') })
  const exchange = (url: string, token: string, extra: string[] = []) =>
    runCli(['exchange', '--url', url, '--token', '-', '--audience', API, ...extra], { cwd, input: token })

  it('the broker says loudly that it trusts a development issuer, and for which provider', () => {
    expect(dev.stderr).toContain(`WARNING: this broker trusts a DEVELOPMENT issuer at ${dev.url}/dev`)
    expect(dev.stderr).toContain(
      `provider github-actions (preset github-actions) trusts ${dev.url}/dev/github-actions instead of https://token.actions.githubusercontent.com`,
    )
    expect(dev.stderr).toContain('never start a shared or deployed broker with --dev-issuer')
  })

  it('a GitHub-shaped dev token from another folder is exchanged under the example policy', async () => {
    const token = await presetToken(dev.url)
    expect(token.code, token.stderr).toBe(0)
    const payload = JSON.parse(Buffer.from(token.stdout.split('.')[1] as string, 'base64url').toString())
    expect(payload).toMatchObject({
      iss: `${dev.url}/dev/github-actions`,
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository_id: '892345671',
      job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
    })
    const out = await exchange(dev.url, token.stdout)
    expect(out.code, out.stderr).toBe(0)
    expect(JSON.parse(out.stdout)).toMatchObject({ token_type: 'Bearer', scope: 'deploy:write' })
    // Neither the dev issuer key nor the broker key leaked into the current folders.
    expect(existsSync(join(cwd, 'docs', '.tessera'))).toBe(false)
    expect(existsSync(join(cwd, '.tessera'))).toBe(false)
    // signing.key.local is relative to the config file's folder.
    expect(existsSync(join(cwd, 'conf', '.tessera', 'signing-key.json'))).toBe(true)
  })

  it('a claim the policy pins differently is refused', async () => {
    const token = await presetToken(dev.url, ['--claim', 'repository_id=1'])
    const out = await exchange(dev.url, token.stdout)
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(
      /^invalid_target: no policy grants audience https:\/\/api\.example\.com to this subject/,
    )
  })

  it('a broker started without --dev-issuer refuses the same token', async () => {
    const token = await presetToken(strict.url)
    const out = await exchange(strict.url, token.stdout)
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(/^invalid_request: subject_token issuer is not trusted/)
  })

  it('the plain dev issuer does not stand in for the preset', async () => {
    const token = await runCli(
      ['dev-token', '--url', dev.url, '--sub', 'repo:acme/app:ref:refs/heads/main'],
      { cwd },
    )
    const out = await exchange(dev.url, token.stdout)
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(/^invalid_request: subject_token issuer is not trusted/)
  })

  it('--format env against a token grant says a token was granted (exit 1), printing no credential', async () => {
    const token = await presetToken(dev.url)
    const out = await exchange(dev.url, token.stdout, ['--format', 'env'])
    expect(out.code).toBe(1)
    expect(out.stdout).toBe('')
    expect(out.stderr).toBe(
      'tessera exchange: the broker granted an access token, not AWS credentials: use --format json or token (the grant is chosen by --audience or --resource)\n',
    )
  })

  it('the README quick start shows exactly these commands', () => {
    const readme = readFileSync(resolve('README.md'), 'utf8')
    expect(readme).toContain(
      'npx --no-install tessera serve --config examples/github-actions-local.yaml --dev-issuer',
    )
    expect(readme).toContain(
      'npx --no-install tessera dev-token --preset github-actions \\\n  | npx --no-install tessera exchange --token - --audience https://api.example.com',
    )
  })

  it('dev-token refuses an unknown preset (exit 2)', async () => {
    const out = await runCli(['dev-token', '--preset', 'jenkins'], { cwd })
    expect(out.code).toBe(2)
    expect(out.stderr).toMatch(/^tessera dev-token: --preset must be one of github-actions, gitlab/)
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliIo } from '../../lib/cli/command.js'
import { lintStartupCheck, policyExplainCommand, policyLintCommand } from '../../lib/cli/policy.js'
import { loadConfigText } from '../../lib/config/load.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import { runLine } from './run-command.js'

const DIR = mkdtempSync(join(tmpdir(), 'tessera-policy-cli-'))
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'github-actions.yaml')

function file(name: string, text: string): string {
  const path = join(DIR, name)
  writeFileSync(path, text)
  return path
}

const BAD = file(
  'bad.yaml',
  `issuer: https://sts.example.com
providers:
  - name: gha
    kind: oidc
    preset: github-actions
    audiences: [https://sts.example.com]
policies:
  - name: everyone
    provider: gha
    match:
      sub: { glob: "repo:acme/*:*" }
    grant:
      token: { audience: https://api.example.com }
`,
)

const WARN_ONLY = file(
  'warn.yaml',
  `issuer: https://sts.example.com
providers:
  - name: gha
    kind: oidc
    preset: github-actions
policies:
  - name: main
    provider: gha
    match: { sub: "repo:acme/app:ref:refs/heads/main", repository_id: "1", repository_owner_id: "2" }
    grant:
      token: { audience: https://api.example.com }
`,
)

const INVALID = file('invalid.yaml', 'issuer: https://sts.example.com\nproviders: []\n')

async function run(
  argv: string[],
  io: Partial<Pick<CliIo, 'fetch' | 'now'>> & { tty?: boolean; stdinText?: string } = {},
) {
  const { stdinText, ...rest } = io
  return runLine([policyLintCommand, policyExplainCommand], ['policy', ...argv], {
    ...rest,
    ...(stdinText === undefined ? {} : { stdin: stdinText }),
  })
}

describe('tessera policy lint', () => {
  it('exits 0 with no findings for a safe example', async () => {
    expect(await run(['lint', EXAMPLE])).toEqual({ code: 0, stdout: 'no findings\n', stderr: '' })
  })

  it('lints the built-in example when no file is given', async () => {
    expect((await run(['lint'])).code).toBe(0)
  })

  it('exits 1 on errors and prints file:line:col', async () => {
    const r = await run(['lint', BAD])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`${BAD}:11:7  error  broad-subject`)
    expect(r.stdout).not.toContain('\x1b[')
  })

  it('colours when stdout is a TTY', async () => {
    expect((await run(['lint', BAD], { tty: true })).stdout).toContain('\x1b[31merror')
  })

  it('exits 0 on warnings only', async () => {
    const r = await run(['lint', '--config', WARN_ONLY])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('warning  audience-missing')
  })

  it('prints JSON and GitHub annotations', async () => {
    const json = await run(['lint', BAD, '--format', 'json'])
    expect(JSON.parse(json.stdout).summary.error).toBeGreaterThan(0)
    const gh = await run(['lint', BAD, '--format=github'])
    expect(gh.code).toBe(1)
    expect(gh.stdout).toMatch(
      new RegExp(
        `^::error file=${BAD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},line=11,col=7,title=broad-subject::`,
        'm',
      ),
    )
  })

  it('reports a config that does not load, in every format', async () => {
    const human = await run(['lint', INVALID])
    expect(human.code).toBe(1)
    expect(human.stdout).toContain('invalid configuration')
    const gh = await run(['lint', INVALID, '--format', 'github'])
    expect(gh.stdout).toMatch(/^::error file=.*invalid\.yaml,line=2,col=\d+,title=config::/)
    expect(JSON.parse((await run(['lint', INVALID, '--format', 'json'])).stdout).configErrors.length).toBe(1)
    expect((await run(['lint', join(DIR, 'missing.yaml')])).code).toBe(1)
  })

  it.each([
    [['lint', '--format', 'xml']],
    [['lint', '--bogus']],
    [['lint', 'a.yaml', 'b.yaml']],
    [['lint', 'a.yaml', '--config', 'b.yaml']],
    [['frobnicate']],
    [['explain', EXAMPLE]],
    [['explain', '--token']],
  ])('exits 2 with usage for %j', async (argv) => {
    const r = await run(argv)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/usage: tessera policy (lint|explain|<command>) /)
    // Node's parser message quotes with unbalanced quotes; the CLI prints plain words.
    expect(r.stderr).not.toMatch(/['"]/)
  })

  it('prints usage and examples on stdout for --help and -h (exit 0), and exits 2 without a command', async () => {
    for (const argv of [
      ['help'],
      ['--help'],
      ['lint', '--help'],
      ['explain', '-h'],
      ['explain', EXAMPLE, '-h'],
    ]) {
      const r = await run(argv)
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/^usage: tessera policy /)
    }
    expect((await run(['lint', '--help'])).stdout).toMatch(/\nexamples:\n {2}tessera policy lint /)
    expect((await run([])).code).toBe(2)
  })
})

describe('tessera policy explain', () => {
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const unsigned = (payload: Record<string, unknown>) => `${b64u({ alg: 'RS256' })}.${b64u(payload)}.c2ln`
  const MAIN = {
    iss: 'https://token.actions.githubusercontent.com',
    aud: 'https://sts.example.com',
    sub: 'repo:acme/app:ref:refs/heads/main',
    repository_id: '892345671',
    repository_owner_id: '1234567',
    job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
  }

  it('explains a token given inline, from a file and from stdin', async () => {
    const token = unsigned(MAIN)
    const inline = await run(['explain', EXAMPLE, '--token', token, '--audience', 'https://api.example.com'])
    expect(inline.code).toBe(0)
    expect(inline.stdout).toContain('✓ policy deploy-app  <- chosen')
    const path = file('token.jwt', `${token}\n`)
    expect(
      (await run(['explain', EXAMPLE, '--token', `@${path}`, '--audience', 'https://api.example.com'])).code,
    ).toBe(0)
    const piped = await run(['explain', EXAMPLE, '-t', '-', '--audience', 'https://api.example.com'], {
      stdinText: token,
    })
    expect(piped.code).toBe(0)
  })

  it('exits 1 when the broker would refuse', async () => {
    const r = await run([
      'explain',
      EXAMPLE,
      '--token',
      unsigned({ ...MAIN, repository_id: '1' }),
      '--audience',
      'https://api.example.com',
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('decision   deny (invalid_target)')
  })

  it('exits 1 with a message for a token that is not a JWT', async () => {
    const r = await run(['explain', EXAMPLE, '--token', 'not-a-jwt'])
    expect(r).toMatchObject({ code: 1, stdout: '' })
    expect(r.stderr).toContain('not a signed JWT')
  })

  it('reports --verify failure without network access for an untrusted issuer', async () => {
    const r = await run([
      'explain',
      EXAMPLE,
      '--verify',
      '--token',
      unsigned({ ...MAIN, iss: 'https://x.example.com' }),
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('verification FAILED: no oidc provider trusts this issuer')
  })

  describe('--verify against a loopback issuer', () => {
    let issuer: TestIssuer
    let config: string
    beforeAll(async () => {
      issuer = await startTestIssuer()
      config = file(
        'verify.yaml',
        `issuer: https://sts.example.com
providers:
  - name: ci
    kind: oidc
    issuer: ${issuer.issuer}
    jwksUri: ${issuer.jwksUri}
    audiences: [https://sts.example.com]
policies:
  - name: build
    provider: ci
    match: { sub: builder }
    grant: { token: { audience: https://api.example.com } }
`,
      )
    })
    afterAll(() => issuer.close())

    it('verifies a correctly signed token and explains it', async () => {
      const token = await issuer.sign({ sub: 'builder', aud: 'https://sts.example.com' })
      const r = await run(['explain', config, '--verify', '--token', token], { fetch: globalThis.fetch })
      expect(r.stdout).toContain('signature  verified')
      expect(r.code).toBe(0)
    })

    it('flags a tampered token even though its claims would match', async () => {
      const token = await issuer.sign({ sub: 'nobody', aud: 'https://sts.example.com' })
      const [h, , s] = token.split('.')
      const forged = `${h}.${b64u({ iss: issuer.issuer, sub: 'builder', aud: 'https://sts.example.com', exp: 4e9 })}.${s}`
      const r = await run(['explain', config, '--verify', '--token', forged], { fetch: globalThis.fetch })
      expect(r.stdout).toContain('verification FAILED')
      expect(r.stdout).toContain('decision   allow')
      expect(r.stdout).toContain('but the token fails verification')
      expect(r.code).toBe(1)
    })
  })
})

describe('lintStartupCheck (for tessera serve)', () => {
  it('splits lint findings into refusing errors and printed warnings', () => {
    const loaded = loadConfigText(
      `issuer: https://sts.example.com
providers: [{ name: gha, kind: oidc, preset: github-actions }]
policies:
  - { name: p, provider: gha, match: { ref: refs/heads/main }, grant: { token: { audience: https://a.example.com } } }
`,
      'serve.yaml',
    )
    const { errors, warnings } = lintStartupCheck(loaded)
    expect(errors).toEqual([
      expect.stringMatching(/^serve\.yaml:4:\d+: identity-unpinned: policy "p" has no condition/),
    ])
    expect(warnings).toEqual([expect.stringMatching(/^serve\.yaml:2:\d+: audience-missing: /)])
  })

  it('passes a clean config', () => {
    const loaded = loadConfigText(
      `issuer: https://sts.example.com
providers: [{ name: k, kind: oidc, preset: kubernetes, issuer: "https://k.example.com", audiences: [https://sts.example.com] }]
policies:
  - { name: p, provider: k, match: { sub: "system:serviceaccount:a:b" }, grant: { token: { audience: https://a.example.com } } }
`,
      'serve.yaml',
    )
    expect(lintStartupCheck(loaded)).toEqual({ errors: [], warnings: [] })
  })
})

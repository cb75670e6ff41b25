import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exchangeCommand, formatResult } from '../../lib/cli/exchange.js'
import {
  formatGitCredential,
  formatGithubEnv,
  isGithubTokenOutput,
  parseGithubTokenOutput,
} from '../../lib/client/github-output.js'
import { runSpec } from '../cli/run-command.js'

/** Runs `tessera exchange` in-process: its stdout on success, else an error with its stderr and exit code. */
async function runExchange(argv: string[]): Promise<string> {
  const r = await runSpec(exchangeCommand, argv, { fetch: (...a) => globalThis.fetch(...a), env: {} })
  if (r.code !== 0)
    throw Object.assign(new Error(r.stderr.trim() || r.stdout.trim()), { code: r.code, stdout: r.stdout })
  return r.stdout.replace(/\n$/, '')
}

const TOKEN = 'ghs_16CharactersLongX0123456789abcdefgh'
const BODY = {
  access_token: TOKEN,
  issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  token_type: 'Bearer',
  expires_in: 3600,
  scope: 'contents:read metadata:read',
  repositories: ['app'],
}
const AWS = {
  access_token: 'IQoJb3JpZ2luX2Vj',
  aws_access_key_id: 'ASIATESTKEY000000001',
  aws_secret_access_key: 'secret/abc+def=',
  aws_session_token: 'IQoJb3JpZ2luX2Vj',
  expiration: '2026-12-06T13:00:00Z',
}

describe('GitHub token output', () => {
  it('env: GH_TOKEN and GITHUB_TOKEN export lines', () => {
    expect(formatGithubEnv(parseGithubTokenOutput(BODY))).toBe(
      `export GH_TOKEN='${TOKEN}'\nexport GITHUB_TOKEN='${TOKEN}'\n`,
    )
  })

  it('git-credential: username=x-access-token, password and its expiry', () => {
    expect(formatGitCredential(BODY, Date.UTC(2026, 11, 6, 12))).toBe(
      `username=x-access-token\npassword=${TOKEN}\npassword_expiry_utc=${Date.UTC(2026, 11, 6, 13) / 1000}\n`,
    )
  })

  it('formatResult --format env prints GitHub variables for a GitHub token and AWS ones for AWS credentials', () => {
    expect(formatResult(BODY, 'env')).toMatch(/^export GH_TOKEN=/)
    expect(formatResult(AWS, 'env')).toMatch(/^export AWS_ACCESS_KEY_ID=/)
  })

  it('refuses a Tessera JWT, AWS credentials, or nothing for git-credential', () => {
    for (const body of [{ access_token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' }, AWS, {}, { access_token: 42 }]) {
      expect(() => formatResult(body, 'git-credential')).toThrow(/did not answer with a GitHub token/)
    }
  })

  it('refuses tokens that would inject lines or break quoting', () => {
    for (const token of [`${TOKEN}\npassword=evil`, `${TOKEN}\r`, `ghs_a'b`, 'ghs_ a', 'ghs_', 'xyz_abc']) {
      expect(isGithubTokenOutput({ access_token: token }), JSON.stringify(token)).toBe(false)
    }
    expect(() => formatGithubEnv({ access_token: "ghs_a'b" })).toThrow()
  })

  it('property: whatever the token, the git answer is exactly the two or three expected lines', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (tail) => {
        const body = { access_token: `ghs_${tail}`, expires_in: 60 }
        if (!isGithubTokenOutput(body)) return
        const lines = formatGitCredential(body, 0).trimEnd().split('\n')
        expect(lines).toHaveLength(3)
        expect(lines[0]).toBe('username=x-access-token')
      }),
    )
  })
})

describe('tessera exchange --format git-credential as a git credential helper', () => {
  it('store and erase print nothing and call no broker', async () => {
    // Nothing listens on port 9: a broker call would fail.
    const args = ['--url', 'http://127.0.0.1:9', '--token', 'x', '--resource', 'https://github.com/acme']
    expect(await runExchange([...args, '--format', 'git-credential', 'store'])).toBe('')
    expect(await runExchange([...args, '--format', 'git-credential', 'erase'])).toBe('')
  })

  it('refuses an unknown action, several, or an action with another format', async () => {
    const args = ['--url', 'http://127.0.0.1:9', '--token', 'x', '--resource', 'https://github.com/acme']
    await expect(runExchange([...args, '--format', 'git-credential', 'push'])).rejects.toThrow(
      /unexpected argument/,
    )
    await expect(runExchange([...args, '--format', 'git-credential', 'get', 'get'])).rejects.toThrow(
      /unexpected argument/,
    )
    await expect(runExchange([...args, '--format', 'json', 'get'])).rejects.toThrow(/unexpected argument/)
  })
})

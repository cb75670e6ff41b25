import type { ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { devIssuerKeyFile, devIssuerUrl, signDevToken } from '../../lib/server/dev-issuer.js'
import { serveConfig } from './cli-harness.js'

// examples/gitlab-ci.yml, exercised: its exchange line runs in bash (GitLab's `set -eo pipefail`)
// against `tessera serve`, whose dev issuer stands in for gitlab.com with gitlab-shaped claims.
const ROOT = join(import.meta.dirname, '..', '..')
const example = parse(readFileSync(join(ROOT, 'examples', 'gitlab-ci.yml'), 'utf8')) as {
  variables: Record<string, string>
  'publish-release': { id_tokens: Record<string, { aud: string }>; script: string[] }
}
const job = example['publish-release']
const exchangeLine = job.script.find((line) => line.includes('tessera exchange'))!
const PROJECT = {
  sub: 'project_path:acme/platform/api:ref_type:branch:ref:main',
  project_id: '46573356',
  project_path: 'acme/platform/api',
}

let cwd: string
let url: string
let child: ChildProcess

const configText = (base: string) => `issuer: ${base}
signing: { algorithm: ES256, key: { local: .tessera/signing-key.json } }
providers:
  - name: gitlab
    kind: oidc
    preset: gitlab
    issuer: ${base}/dev          # the dev issuer stands in for https://gitlab.com
    algorithms: [ES256]
    audiences: [${base}]
    replay: once
policies:
  - name: release-api
    provider: gitlab
    match:
      sub: ${PROJECT.sub}
      project_id: "${PROJECT.project_id}"
      ref_protected: "true"
    grant:
      token: { audience: https://registry.example.com, scopes: [release:publish], ttl: 15m }
`

/** A GitLab-shaped job token from the dev issuer (GitLab sends ids and booleans as strings). */
function gitlabToken(claims: Record<string, string> = {}, aud = url): Promise<string> {
  const { sub, ...rest } = { ...PROJECT, ref_protected: 'true', ref: 'main', ref_type: 'branch', ...claims }
  return signDevToken({
    issuer: devIssuerUrl(url),
    sub,
    audience: aud,
    claims: rest,
    ttlSeconds: 300,
    keyFile: devIssuerKeyFile(),
  })
}

/** Runs the example's exchange line as GitLab would, then prints what it assigned. */
function runJobLine(idToken: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `set -eo pipefail\n${exchangeLine}\nprintf '%s' "$ACCESS_TOKEN"\n`
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? cwd,
    TESSERA_URL: url,
    TESSERA_CLI_DIR: ROOT,
    TESSERA_ID_TOKEN: idToken,
  }
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { env, cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'tessera-gitlab-'))
  ;({ url, child } = await serveConfig(cwd, configText, { args: ['--dev-issuer'] }))
}, 60_000)
afterAll(() => {
  child?.kill()
  rmSync(cwd, { recursive: true, force: true })
})

describe('examples/gitlab-ci.yml', () => {
  it('asks GitLab for an id token whose aud is the broker URL the CLI is pointed at', () => {
    expect(job.id_tokens.TESSERA_ID_TOKEN?.aud).toBe(example.variables.TESSERA_URL)
    expect(exchangeLine).toContain('--url "$TESSERA_URL" --token "$TESSERA_ID_TOKEN"')
    expect(exchangeLine).toContain('npx --no-install tessera exchange')
  })

  it('the job line gets a registry token for the protected main branch; the job token is single use', async () => {
    const token = await gitlabToken()
    const r = await runJobLine(token)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(decodeJwt(r.stdout)).toMatchObject({
      aud: 'https://registry.example.com',
      scope: 'release:publish',
      client_id: 'release-api',
      sub: PROJECT.sub,
      idp: 'gitlab',
    })
    const again = await runJobLine(token)
    expect(again.code).not.toBe(0)
    expect(again.stdout).toBe('')
    expect(again.stderr).toMatch(/^invalid_request: .*already been used/)
  }, 120_000)

  it('stops the job for another project with the same path (re-registered): error on stderr, no token', async () => {
    const r = await runJobLine(await gitlabToken({ project_id: '999' }))
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^invalid_target: no policy grants/)
  }, 60_000)

  it("stops the job for a token with GitLab's default audience (the instance URL)", async () => {
    const r = await runJobLine(await gitlabToken({}, 'https://gitlab.com'))
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^invalid_request: /)
  }, 60_000)
})

import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../e2e/harness.js'
import { type FakeActionsRuntime, startFakeActionsRuntime } from '../fakes/actions-runtime.js'
import { type FakeSts, startFakeSts } from '../fakes/sts.js'

// The committed bundle, run with node as the runner runs it, against a fake Actions runtime that
// issues OIDC tokens the local broker trusts, with temporary GITHUB_OUTPUT / GITHUB_ENV files.
const ROOT = join(import.meta.dirname, '..', '..')
const BUNDLE = join(ROOT, 'action', 'dist', 'index.js')
const ROLE = 'arn:aws:iam::123456789012:role/deploy'
const ALLOWED = { sub: 'repo:acme/app:ref:refs/heads/main', repository_owner_id: '123456' }

interface Run {
  code: number
  stdout: string
  stderr: string
  output: string
  env: string
}

let dir: string
let h: Harness
let runtime: FakeActionsRuntime
let seq = 0

/** Runs the bundle with `inputs` (as the runner passes them: INPUT_<NAME>) and fresh runner files. */
function runAction(
  inputs: Record<string, string>,
  extraEnv: Record<string, string | undefined> = {},
): Promise<Run> {
  const output = join(dir, `output-${++seq}`)
  const envFile = join(dir, `env-${seq}`)
  writeFileSync(output, '')
  writeFileSync(envFile, '')
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' }
  for (const [k, v] of Object.entries({
    ACTIONS_ID_TOKEN_REQUEST_URL: runtime.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: runtime.requestToken,
    GITHUB_OUTPUT: output,
    GITHUB_ENV: envFile,
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    ...extraEnv,
  }))
    if (v !== undefined) env[k] = v
  return new Promise((resolve) => {
    execFile(process.execPath, [BUNDLE], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0
      resolve({
        code,
        stdout,
        stderr,
        output: readFileSync(output, 'utf8'),
        env: readFileSync(envFile, 'utf8'),
      })
    })
  })
}

/** name → value from a file written with the `name<<delimiter` form. */
function fileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /^([A-Za-z_]\w*)<<(\S+)\n([\s\S]*?)\n\2\n/gm
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!
  return out
}

/** Every secret is masked before any other log line could show it, and shows nowhere else. */
function expectMaskedFirst(stdout: string, secrets: readonly string[]): void {
  const lines = stdout.split('\n')
  for (const secret of secrets) {
    const first = lines.findIndex((l) => l.includes(secret))
    expect(lines[first]).toBe(`::add-mask::${secret}`)
    expect(lines.filter((l) => l.includes(secret) && l !== `::add-mask::${secret}`)).toEqual([])
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-action-'))
  h = await startHarness()
  runtime = await startFakeActionsRuntime(h.issuer, ALLOWED)
})
afterAll(async () => {
  await runtime?.close()
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the action (committed bundle) with a local broker', () => {
  it('output token: the step output token, masked; audience of the job token is the broker url', async () => {
    const r = await runAction({ url: h.url, audience: 'https://api.example.com', scope: 'deploy:read' })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const { token } = fileCommands(r.output)
    expect(decodeJwt(token!)).toMatchObject({
      aud: 'https://api.example.com',
      scope: 'deploy:read',
      client_id: 'deploy-app',
    })
    expect(runtime.audiences.at(-1)).toBe(h.url)
    expectMaskedFirst(r.stdout, [token!, runtime.issued.at(-1)!])
    expect(r.env).toBe('')
    expect(r.stdout).toMatch(/Tessera: token set, expires in 600 s/)
  })

  it('output github: GH_TOKEN in the job environment, masked, and no step output', async () => {
    const r = await runAction({ url: h.url, audience: 'https://api.example.com', output: 'github' })
    expect(r.code).toBe(0)
    const { GH_TOKEN } = fileCommands(r.env)
    expect(decodeJwt(GH_TOKEN!).aud).toBe('https://api.example.com')
    expectMaskedFirst(r.stdout, [GH_TOKEN!])
    expect(r.output).toBe('')
  })

  it('without ACTIONS_ID_TOKEN_REQUEST_URL: fails naming permissions id-token write, writes nothing', async () => {
    const before = runtime.audiences.length
    const r = await runAction(
      { url: h.url, audience: 'https://api.example.com' },
      { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined },
    )
    expect(r.code).not.toBe(0)
    expect(r.stdout).toMatch(/^::error::id_token_unavailable: .*permissions: id-token: write/m)
    expect(r.output + r.env).toBe('')
    expect(runtime.audiences.length).toBe(before)
  })

  it('a subject no policy allows: ::error:: with the broker error code, nothing written', async () => {
    runtime.claims = { ...ALLOWED, sub: 'repo:acme/app:ref:refs/heads/dev' }
    try {
      const r = await runAction({ url: h.url, audience: 'https://api.example.com' })
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/^::error::invalid_target: no policy grants .*\(request id: [^)]+\)$/m)
      expect(r.output + r.env).toBe('')
      expectMaskedFirst(r.stdout, [runtime.issued.at(-1)!])
    } finally {
      runtime.claims = ALLOWED
    }
  })

  it('a scope beyond the grant: invalid_scope, nothing written', async () => {
    const r = await runAction({ url: h.url, audience: 'https://api.example.com', scope: 'admin' })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::invalid_scope: /m)
    expect(r.output + r.env).toBe('')
  })

  it('output aws where only a token grant matches: the broker refuses, nothing written', async () => {
    const r = await runAction({ url: h.url, audience: 'https://api.example.com', output: 'aws' })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::invalid_target: /m)
    expect(r.output + r.env).toBe('')
  })

  const badInputs: [string, Record<string, string>, RegExp][] = [
    ['no url', { url: '', audience: 'https://api.example.com' }, /input url is required/],
    ['both audience and resource', { audience: 'https://a.example', resource: ROLE }, /exactly one of/],
    ['neither audience nor resource', {}, /exactly one of/],
    [
      'an unknown output',
      { audience: 'https://a.example', output: 'file' },
      /output must be one of token, aws, github/,
    ],
    [
      'a plain-http broker off the machine',
      { url: 'http://sts.example.com', audience: 'https://a.example' },
      /https/,
    ],
    [
      'a broker url with a query',
      { audience: 'https://a.example', url: 'https://sts.example.com/?x=1' },
      /query/,
    ],
  ]
  for (const [name, inputs, message] of badInputs) {
    it(`refuses ${name} before asking for any token`, async () => {
      const before = runtime.audiences.length
      const r = await runAction({ url: h.url, ...inputs })
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/^::error::invalid_input: /m)
      expect(r.stdout).toMatch(message)
      expect(r.output + r.env).toBe('')
      expect(runtime.audiences.length).toBe(before)
    })
  }

  it('a runtime that refuses the request token: id_token_request_failed', async () => {
    const r = await runAction(
      { url: h.url, audience: 'https://api.example.com' },
      { ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' },
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::id_token_request_failed: the Actions runtime answered HTTP 401$/m)
    expect(r.output + r.env).toBe('')
  })

  it('a request token never goes off the machine in clear text', async () => {
    const r = await runAction(
      { url: h.url, audience: 'https://api.example.com' },
      { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runtime.example.com/idtoken?api-version=2.0' },
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::id_token_unavailable: .*https/m)
  })

  it('a broker that does not answer: discovery_failed, nothing written', async () => {
    const r = await runAction({ url: 'http://127.0.0.1:9', audience: 'https://api.example.com' })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::discovery_failed: /m)
    expect(r.output + r.env).toBe('')
  })

  it('GITHUB_ENV missing for an env output: fails before requesting a token', async () => {
    const before = runtime.audiences.length
    const r = await runAction(
      { url: h.url, audience: 'https://api.example.com', output: 'github' },
      { GITHUB_ENV: '' },
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error::runner_unsupported: GITHUB_ENV is not set/m)
    expect(runtime.audiences.length).toBe(before)
  })
})

describe('the action with an aws grant', () => {
  let sts: FakeSts
  let aws: Harness
  let awsRuntime: FakeActionsRuntime
  const saved = process.env.AWS_ENDPOINT_URL_STS

  beforeAll(async () => {
    sts = await startFakeSts()
    // The in-process broker's STS client is created at the first aws exchange and reads this then.
    process.env.AWS_ENDPOINT_URL_STS = sts.endpoint
    aws = await startHarness({
      policies: `
policies:
  - name: deploy-aws
    provider: ci
    match: { sub: repo:acme/app:ref:refs/heads/main, repository_owner_id: "123456" }
    grant:
      aws: { roleArn: ${ROLE}, duration: 15m }
`,
    })
    awsRuntime = await startFakeActionsRuntime(aws.issuer, ALLOWED)
  })
  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_STS
    else process.env.AWS_ENDPOINT_URL_STS = saved
    await awsRuntime?.close()
    await aws?.close()
    await sts?.close()
  })

  it('output aws: the three AWS variables in the job environment, all masked first', async () => {
    const r = await runAction(
      { url: aws.url, resource: ROLE, output: 'aws' },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: awsRuntime.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: awsRuntime.requestToken,
      },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const vars = fileCommands(r.env)
    expect(Object.keys(vars).sort()).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
    ])
    expect(vars.AWS_ACCESS_KEY_ID).toMatch(/^ASIA/)
    expectMaskedFirst(r.stdout, Object.values(vars))
    expect(r.output).toBe('')
    expect(sts.assumeRoleCalls().at(-1)).toMatchObject({ RoleArn: ROLE })
  })

  it('output token with an aws grant: every secret member of the answer is masked, not only the token', async () => {
    const r = await runAction(
      { url: aws.url, resource: ROLE, output: 'token' },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: awsRuntime.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: awsRuntime.requestToken,
      },
    )
    expect(r.code).toBe(0)
    const masked = r.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'))
    // The job token, then access_token, aws_access_key_id, aws_secret_access_key, aws_session_token.
    expect(masked.length).toBe(5)
    expect(fileCommands(r.output).token).toBe(masked[1]!.slice('::add-mask::'.length))
  })
})

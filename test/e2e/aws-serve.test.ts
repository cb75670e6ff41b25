import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TOKEN_EXCHANGE_GRANT, TokenTypes } from '../../lib/assertion/token-types.js'
import { signedCallerIdentityToken } from '../../lib/client/aws-sigv4.js'
import { type FakeSts, IAM_USER, LAMBDA_ROLE, type StsPrincipal, startFakeSts } from '../fakes/sts.js'
import { runCli, serveConfig } from './cli-harness.js'

// Black box: `tessera serve` with an aws-iam provider and an aws grant, STS
// played by the loopback fake; `tessera exchange --aws-iam` signs GetCallerIdentity with "a Lambda
// role" and gets credentials of another role, printed for the AWS CLI.
const SERVER_ID = 'tessera-e2e'
const TARGET_ROLE = 'arn:aws:iam::444455556666:role/orders-reader'
const SESSION_NAME_RE = /^[\w+=,.@-]{2,64}$/

/** Another role in the trusted account, which no policy names. */
const OTHER_ROLE: StsPrincipal = {
  accessKeyId: 'ASIATESTOTHERFN00001',
  secretAccessKey: 'other-secret-key/ccccccccccccccccccccccccccccccc',
  sessionToken: 'IQoJb3JpZ2luX2VjEOTHERSESSIONTOKEN+/=',
  arn: 'arn:aws:sts::111122223333:assumed-role/billing-fn-role/billing-fn',
  account: '111122223333',
  userId: 'AROATESTOTHERROLEID:billing-fn',
}

let sts: FakeSts
let cwd: string
let url: string
let child: ChildProcess

function configText(base: string): string {
  return `issuer: ${base}
providers:
  - name: lambdas
    kind: aws-iam
    accounts: ["111122223333"]
    serverIdHeader: ${SERVER_ID}
policies:
  - name: orders-reader
    provider: lambdas
    match: { role: orders-fn-role, account: "111122223333" }
    grant:
      aws:
        roleArn: ${TARGET_ROLE}
        duration: 20m
        sessionTags: { caller_role: "{{role}}", caller_session: "{{session}}", team: platform }
`
}

/** Environment of a process holding `p`'s credentials (and nothing else from the chain). */
function credentialsEnv(p: StsPrincipal): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
    ...(p.sessionToken ? { AWS_SESSION_TOKEN: p.sessionToken } : {}),
    AWS_REGION: 'us-east-1',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: join(cwd, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(cwd, 'no-aws-credentials'),
  }
}

function exchangeCli(
  opts: { principal?: StsPrincipal; serverId?: string | null; resource?: string; format?: string } = {},
) {
  const args = ['exchange', '--aws-iam', '--url', url, '--resource', opts.resource ?? TARGET_ROLE]
  const serverId = opts.serverId === undefined ? SERVER_ID : opts.serverId
  if (serverId !== null) args.push('--server-id', serverId)
  args.push('--format', opts.format ?? 'credential-process')
  return runCli(args, { cwd, env: credentialsEnv(opts.principal ?? LAMBDA_ROLE) })
}

/** A subject token signed with `p`'s credentials, as the client library makes it. */
function signFor(p: StsPrincipal, serverId: string | null): Promise<string> {
  return signedCallerIdentityToken({
    region: 'us-east-1',
    ...(serverId !== null ? { serverId } : {}),
    credentials: async () => ({
      accessKeyId: p.accessKeyId,
      secretAccessKey: p.secretAccessKey,
      ...(p.sessionToken ? { sessionToken: p.sessionToken } : {}),
    }),
  })
}

/** The same exchange over plain HTTP (no CLI start-up cost), for the cases that need no CLI output. */
async function exchangeHttp(
  opts: { principal?: StsPrincipal; serverId?: string | null; resource?: string; subject?: string } = {},
) {
  const subject =
    opts.subject ??
    (await signFor(opts.principal ?? LAMBDA_ROLE, opts.serverId === undefined ? SERVER_ID : opts.serverId))
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: TokenTypes.awsSigv4,
      resource: opts.resource ?? TARGET_ROLE,
      requested_token_type: TokenTypes.awsCredentials,
    }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  sts = await startFakeSts()
  cwd = mkdtempSync(join(tmpdir(), 'tessera-aws-e2e-'))
  // Tessera's own role: the TESSERA_ROLE keys the fake knows (vitest.config.ts env), no session token.
  ;({ url, child } = await serveConfig(cwd, configText, {
    env: {
      AWS_ENDPOINT_URL_STS: sts.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTESTTESSERA',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
    },
  }))
  sts.addPrincipal(OTHER_ROLE)
}, 60_000)
afterEach(() => sts.reset())
afterAll(async () => {
  child?.kill()
  await sts?.close()
  rmSync(cwd, { recursive: true, force: true })
})

describe('tessera serve + tessera exchange --aws-iam (STS fake)', () => {
  it('trades a Lambda role identity for credentials of another role, as AWS CLI credential_process JSON', async () => {
    const r = await exchangeCli()
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as Record<string, unknown>
    expect(Object.keys(out).sort()).toEqual(
      ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'SessionToken', 'Version'].sort(),
    )
    expect(out.Version).toBe(1)
    expect(out.AccessKeyId).toMatch(/^ASIA[0-9A-F]{16}$/)
    expect(out.SecretAccessKey).toMatch(/^[A-Za-z0-9/+=]{20,}$/)
    expect(out.SessionToken).toMatch(/^FwoGZXIvYXdzE/)
    expect(out.Expiration).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    const expiresIn = Date.parse(out.Expiration as string) - Date.now()
    expect(expiresIn).toBeGreaterThan(18 * 60_000)
    expect(expiresIn).toBeLessThanOrEqual(20 * 60_000 + 1000)

    // The caller's GetCallerIdentity reached STS with its own (Lambda) signature, Host kept.
    const gci = sts.requests.filter((q) => q.action === 'GetCallerIdentity')
    expect(gci).toHaveLength(1)
    expect(gci[0]).toMatchObject({ auth: 'ok', host: 'sts.us-east-1.amazonaws.com' })
    expect(gci[0]?.headers['x-tessera-server-id']).toBe(SERVER_ID)
    expect(String(gci[0]?.headers.authorization)).toContain(`Credential=${LAMBDA_ROLE.accessKeyId}/`)

    // AssumeRole was made by Tessera's own role, with what the policy says.
    const assume = sts.requests.filter((q) => q.action === 'AssumeRole')
    expect(assume).toHaveLength(1)
    expect(String(assume[0]?.headers.authorization)).toContain('Credential=AKIDTESTTESSERA/')
    expect(assume[0]?.auth).toBe('ok')
    const p = assume[0]?.params as Record<string, string>
    expect(p.RoleArn).toBe(TARGET_ROLE)
    expect(p.DurationSeconds).toBe('1200')
    expect(p.RoleSessionName).toMatch(SESSION_NAME_RE)
    expect(p.SourceIdentity).toMatch(SESSION_NAME_RE)
    expect(p.SourceIdentity?.toLowerCase().startsWith('aws:')).toBe(false)
    const tags = Object.fromEntries(
      [1, 2, 3, 4].flatMap((n) =>
        p[`Tags.member.${n}.Key`] === undefined
          ? []
          : [[p[`Tags.member.${n}.Key`], p[`Tags.member.${n}.Value`]]],
      ),
    )
    expect(tags).toEqual({ caller_role: 'orders-fn-role', caller_session: 'orders-fn', team: 'platform' })
  })

  it('is deterministic: the same caller gets the same session name and source identity', async () => {
    const [a, b] = [await exchangeHttp(), await exchangeHttp()]
    expect([a.status, b.status]).toEqual([200, 200])
    expect(a.body).toMatchObject({ issued_token_type: TokenTypes.awsCredentials, token_type: 'N_A' })
    expect(a.body.access_token).toBe(a.body.aws_session_token)
    const [x, y] = sts.assumeRoleCalls()
    expect(x?.RoleSessionName).toBe(y?.RoleSessionName)
    expect(x?.SourceIdentity).toBe(y?.SourceIdentity)
  })

  it('--format env prints export AWS_… lines a POSIX shell can source', async () => {
    const r = await exchangeCli({ format: 'env' })
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines.map((l) => l.split('=')[0])).toEqual([
      'export AWS_ACCESS_KEY_ID',
      'export AWS_SECRET_ACCESS_KEY',
      'export AWS_SESSION_TOKEN',
      'export AWS_CREDENTIAL_EXPIRATION',
    ])
    for (const l of lines) expect(l).toMatch(/^export AWS_[A-Z_]+='[A-Za-z0-9/+=:.\-T]+'$/)
    expect(lines[0]).toMatch(/^export AWS_ACCESS_KEY_ID='ASIA[0-9A-F]{16}'$/)
  })
})

describe('refusals', () => {
  const expectFailure = (r: { code: number | null; stdout: string; stderr: string }, error: string) => {
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^${error}: .+`))
  }

  it('CLI: a request signed for another server id exits 1 with invalid_request, nothing forwarded to STS', async () => {
    const r = await exchangeCli({ serverId: 'tessera-staging' })
    expectFailure(r, 'invalid_request')
    expect(r.stderr).toMatch(/X-Tessera-Server-ID/)
    expect(sts.count('GetCallerIdentity')).toBe(0)
    expect(sts.count()).toBe(0)
  })

  it('CLI: STS down (5xx on every call) exits 1 with temporarily_unavailable after bounded attempts', async () => {
    sts.fail('500')
    const r = await exchangeCli()
    expectFailure(r, 'temporarily_unavailable')
    expect(sts.count('GetCallerIdentity')).toBeGreaterThanOrEqual(1)
    expect(sts.count('GetCallerIdentity')).toBeLessThanOrEqual(3)
    expect(sts.count('AssumeRole')).toBe(0)
  })

  it('a request without the server id header: invalid_request, nothing forwarded', async () => {
    const r = await exchangeHttp({ serverId: null })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_request')
    expect(sts.count()).toBe(0)
  })

  it('a principal of an account no provider trusts: invalid_request, no AssumeRole', async () => {
    const r = await exchangeHttp({ principal: IAM_USER })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_request')
    expect(sts.count('GetCallerIdentity')).toBe(1)
    expect(sts.count('AssumeRole')).toBe(0)
  })

  it('a role no policy matches: invalid_target, no AssumeRole', async () => {
    const r = await exchangeHttp({ principal: OTHER_ROLE })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_target')
    expect(sts.count('GetCallerIdentity')).toBe(1)
    expect(sts.count('AssumeRole')).toBe(0)
  })

  it('a role ARN no policy grants: invalid_target, no AssumeRole', async () => {
    const r = await exchangeHttp({ resource: 'arn:aws:iam::444455556666:role/admin' })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_target')
    expect(sts.count('AssumeRole')).toBe(0)
  })

  it('credentials STS does not know (bad signature): invalid_request, no AssumeRole', async () => {
    const forged = { ...LAMBDA_ROLE, secretAccessKey: 'not-the-lambda-secret/xxxxxxxxxxxxxxxxxxxxxx' }
    const r = await exchangeHttp({ principal: forged })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_request')
    expect(sts.count('AssumeRole')).toBe(0)
  })

  it('STS AccessDenied on AssumeRole: invalid_target, and no credentials in the answer', async () => {
    sts.fail('AccessDenied', { action: 'AssumeRole' })
    const r = await exchangeHttp()
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_target')
    expect(r.body.aws_access_key_id).toBeUndefined()
    expect(sts.count('AssumeRole')).toBe(1)
  })

  it('a replayed signed request (replay: once, the default): the second exchange is refused, one AssumeRole', async () => {
    const subject = await signFor(LAMBDA_ROLE, SERVER_ID)
    const first = await exchangeHttp({ subject })
    expect(first.status).toBe(200)
    const replayed = await exchangeHttp({ subject })
    expect(replayed.status).toBe(400)
    expect(replayed.body.error).toBe('invalid_request')
    expect(replayed.body.error_description).toMatch(/already been used/)
    expect(replayed.body.aws_access_key_id).toBeUndefined()
    expect(sts.count('AssumeRole')).toBe(1)
  })

  it('two requests the same caller signs concurrently are distinct: both exchanged (not a replay)', async () => {
    const [a, b] = await Promise.all([signFor(LAMBDA_ROLE, SERVER_ID), signFor(LAMBDA_ROLE, SERVER_ID)])
    expect(a).not.toBe(b)
    const results = await Promise.all([exchangeHttp({ subject: a }), exchangeHttp({ subject: b })])
    expect(results.map((r) => r.status)).toEqual([200, 200])
  })

  it('STS down for AssumeRole only: 503 temporarily_unavailable, at most 3 attempts', async () => {
    sts.fail('500', { action: 'AssumeRole' })
    const r = await exchangeHttp()
    expect(r.status).toBe(503)
    expect(r.body.error).toBe('temporarily_unavailable')
    expect(sts.count('AssumeRole')).toBeGreaterThanOrEqual(1)
    expect(sts.count('AssumeRole')).toBeLessThanOrEqual(3)
  })
})

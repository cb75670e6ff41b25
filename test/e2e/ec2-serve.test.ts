import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TOKEN_EXCHANGE_GRANT } from '../../lib/assertion/token-types.js'
import { instanceAssertion } from '../../lib/client/instance.js'
import {
  ACCOUNT,
  document,
  ec2Token,
  INSTANCE,
  INSTANCE_PROFILE,
  OTHER_SESSION,
  pinned,
} from '../assertion/aws-ec2-fixture.js'
import { type FakeImds, imdsCredentials, startFakeImds } from '../fakes/imds.js'
import { type FakeSts, type StsPrincipal, startFakeSts, TESSERA_ROLE } from '../fakes/sts.js'
import { runCli, serveConfig } from './cli-harness.js'

// Black box (presence proof and client): `tessera serve` with an aws-ec2 provider that
// requires the caller identity; the fake IMDS serves a test-CA-signed rsa2048 document and the
// instance-profile credentials; `tessera exchange --instance aws --caller-identity` gets a token.
const AUDIENCE = 'https://api.example.com'

let sts: FakeSts
let imds: FakeImds
let cwd: string
let url: string
let child: ChildProcess
let profile: StsPrincipal = INSTANCE_PROFILE

function configText(base: string): string {
  return `issuer: ${base}
providers:
  - name: ec2-fleet
    kind: aws-ec2
    accounts: ["${ACCOUNT}"]
    certificates:
      us-east-1: ${JSON.stringify(pinned.pem)}
    binding: { requireCallerIdentity: true }
policies:
  - name: fleet-api
    provider: ec2-fleet
    match: { role: fleet-role, account_id: "${ACCOUNT}" }
    grant:
      token: { audience: ${AUDIENCE}, scopes: [fleet:read], ttl: 5m }
`
}

/** `tessera exchange --instance aws`, the nonce file under `home`. */
function exchangeCli(home: string, extra: string[] = ['--caller-identity']) {
  mkdirSync(home, { recursive: true })
  return runCli(
    ['exchange', '--instance', 'aws', ...extra, '--url', url, '--audience', AUDIENCE, '--format', 'token'],
    {
      cwd,
      env: {
        HOME: home,
        TESSERA_IMDS_ENDPOINT: imds.endpoint,
        // The instance's credentials must come from IMDS, not from the environment.
        AWS_ACCESS_KEY_ID: 'AKIAWRONGENVKEY00000',
        AWS_SECRET_ACCESS_KEY: 'must-not-be-used',
      },
    },
  )
}

/** The client's assertion with the presence proof, from the nonce file of `home`. */
const presenceAssertion = (home: string) =>
  instanceAssertion('aws', {
    brokerUrl: url,
    imdsEndpoint: imds.endpoint,
    nonceFile: join(cwd, home, '.tessera', 'instance-nonce'),
    callerIdentity: true,
  })

async function postAssertion(a: Awaited<ReturnType<typeof instanceAssertion>>) {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: a.subjectToken,
      subject_token_type: a.subjectTokenType,
      actor_token: a.actorToken as string,
      actor_token_type: a.actorTokenType as string,
      ...a.extra,
      audience: AUDIENCE,
    }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  sts = await startFakeSts({ principals: [INSTANCE_PROFILE, OTHER_SESSION, TESSERA_ROLE] })
  // Launched a minute ago: inside the default 15-minute registration window.
  const doc = document({ pendingTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z') })
  const token = ec2Token(doc)
  imds = await startFakeImds({
    awsRsa2048: () => token,
    awsInstanceProfile: { role: 'fleet-role', body: () => imdsCredentials(profile) },
  })
  cwd = mkdtempSync(join(tmpdir(), 'tessera-ec2-e2e-'))
  ;({ url, child } = await serveConfig(cwd, configText, {
    env: { AWS_ENDPOINT_URL_STS: sts.endpoint, AWS_REGION: 'us-east-1' },
  }))
}, 60_000)
afterEach(() => {
  sts.reset()
  profile = INSTANCE_PROFILE
})
afterAll(async () => {
  child?.kill()
  await sts?.close()
  await imds?.close()
  rmSync(cwd, { recursive: true, force: true })
})

describe('tessera exchange --instance aws --caller-identity against tessera serve', () => {
  it('refuses a presence proof from a session not named after the instance (before any registration)', async () => {
    profile = OTHER_SESSION
    const r = await exchangeCli(join(cwd, 'home-a'))
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^invalid_request: .*session named after the instance id/)
    expect(sts.count('GetCallerIdentity')).toBe(1)
  })

  it('refuses the plain TOFU nonce when the provider requires the presence proof; nothing reaches STS', async () => {
    const a = await instanceAssertion('aws', {
      brokerUrl: url,
      imdsEndpoint: imds.endpoint,
      nonceFile: join(cwd, 'home-plain', 'nonce'),
    })
    const { status, body } = await postAssertion(a)
    expect(status).toBe(400)
    expect(body.error).toBe('invalid_request')
    expect(sts.count()).toBe(0)
  })

  it('STS down: temporarily_unavailable, no token', async () => {
    sts.fail('500')
    const { status, body } = await postAssertion(await presenceAssertion('home-a'))
    expect(status).toBe(503)
    expect(body.error).toBe('temporarily_unavailable')
    expect(body.access_token).toBeUndefined()
  })

  it('exchanges the signed document + presence proof for a token, and again with the same nonce', async () => {
    const home = join(cwd, 'home-a')
    const first = await exchangeCli(home)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const claims = decodeJwt(first.stdout.trim())
    expect(claims).toMatchObject({ sub: INSTANCE, aud: AUDIENCE, client_id: 'fleet-api', idp: 'ec2-fleet' })
    const gci = sts.requests.filter((q) => q.action === 'GetCallerIdentity')
    expect(gci).toHaveLength(1)
    expect(gci[0]?.auth).toBe('ok')
    expect(String(gci[0]?.headers.authorization)).toContain(`Credential=${INSTANCE_PROFILE.accessKeyId}/`)
    const again = await exchangeCli(home)
    expect(again.code).toBe(0)
  })

  it('a presence proof is single use: the same request again is refused and nothing is minted', async () => {
    const a = await presenceAssertion('home-a')
    const first = await postAssertion(a)
    expect(first.status).toBe(200)
    const replayed = await postAssertion(a)
    expect(replayed.status).toBe(400)
    expect(replayed.body).toMatchObject({ error: 'invalid_request' })
    expect(String(replayed.body.error_description)).toMatch(/already been used/)
    expect(replayed.body.access_token).toBeUndefined()
  })

  it('a clone (same document and instance profile, another nonce) is refused once the instance is bound', async () => {
    const r = await exchangeCli(join(cwd, 'home-clone'))
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^invalid_request: .*different instance nonce/)
  })

  it('--caller-identity with another cloud is a usage error', async () => {
    const r = await runCli(
      ['exchange', '--instance', 'gcp', '--caller-identity', '--url', url, '--audience', AUDIENCE],
      { cwd },
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--caller-identity goes with --instance aws/)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkGcpInstance, isGcpInstanceProvider } from '../../lib/assertion/gcp-instance.js'
import { explainToken } from '../../lib/cli/policy-explain.js'
import { loadConfigText } from '../../lib/config/load.js'
import { InvalidRequest } from '../../lib/errors.js'
import { compilePolicies } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import { REPLAY_MARGIN_SECONDS } from '../../lib/store/replay.js'
import { generateTestKey, sha256b64u, signCompact } from '../helpers/oidc-issuer.js'
import { BROKER, type OidcFixture, oidcProvider, setupOidc } from './oidc-fixture.js'

const GOOGLE_CERTS = 'https://www.googleapis.com/oauth2/v3/certs'
const ENGINE = {
  instance_creation_timestamp: 1_700_000_000,
  instance_id: '2097631390912826098',
  instance_name: 'web-1',
  project_id: 'acme-prod',
  project_number: 123_456_789_012,
  zone: 'europe-west1-b',
}

let fx: OidcFixture
let now: number

beforeAll(async () => {
  // The real preset (issuer, alias, Google's JWKS URL); only the network is pointed at loopback.
  fx = await setupOidc(
    { name: 'gce', preset: 'gcp-instance', issuer: undefined, projects: ['acme-prod'] },
    { rewrite: (url, issuer) => (url === GOOGLE_CERTS ? issuer.jwksUri : url) },
  )
  now = Math.floor(fx.clock.now / 1000)
})
afterAll(() => fx.close())

const claims = (extra: Record<string, unknown> = {}) => ({
  iss: 'https://accounts.google.com',
  aud: BROKER,
  sub: '104567891234567890123',
  azp: '104567891234567890123',
  email: 'web@acme-prod.iam.gserviceaccount.com',
  email_verified: true,
  iat: now,
  exp: now + 3600,
  google: { compute_engine: ENGINE },
  ...extra,
})

async function refused(token: string, message: RegExp) {
  const err = await fx.refuse(token)
  expect(err).toBeInstanceOf(InvalidRequest)
  expect(err.message).toMatch(message)
  return err
}

describe('gcp-instance preset: accepted', () => {
  it('verifies a format=full VM identity token and flattens the instance claims', async () => {
    const token = await fx.issuer.sign(claims())
    const subject = await fx.verify(token)
    expect(subject).toMatchObject({ provider: 'gce', kind: 'oidc', issuer: 'https://accounts.google.com' })
    expect(subject.claims).toMatchObject(ENGINE)
    expect((subject.claims.google as { compute_engine: unknown }).compute_engine).toEqual(ENGINE)
    expect(subject.replay).toEqual({
      key: `gcp:gce:${sha256b64u(token.split('.').slice(0, 2).join('.'))}`,
      expiresAt: now + 3600 + 30 + REPLAY_MARGIN_SECONDS,
    })
    expect(fx.fetched).toContain(GOOGLE_CERTS)
    expect(fx.issuer.hits('/.well-known/openid-configuration')).toBe(0)
  })

  it('accepts the scheme-less issuer spelling accounts.google.com', async () => {
    const subject = await fx.verify(await fx.issuer.sign(claims({ iss: 'accounts.google.com' })))
    expect(subject.issuer).toBe('accounts.google.com')
  })

  it('the same token presented twice yields the same replay key (what the exchange consumes once)', async () => {
    const token = await fx.issuer.sign(claims())
    const [a, b] = [await fx.verify(token), await fx.verify(token)]
    expect(a.replay?.key).toBeDefined()
    expect(b.replay).toEqual(a.replay)
  })

  it('derives the replay key from the token, not from jti', async () => {
    const a = await fx.verify(await fx.issuer.sign(claims({ jti: 'same' })))
    const b = await fx.verify(await fx.issuer.sign(claims({ jti: 'same', n: 2 })))
    expect(a.replay?.key).not.toBe(b.replay?.key)
    expect((await fx.verify(await fx.issuer.sign(claims({ jti: undefined })))).replay?.key).toMatch(
      /^gcp:gce:/,
    )
  })
})

describe('gcp-instance preset: refused', () => {
  it('refuses every non-canonical re-spelling of the signature (one token, one replay key)', async () => {
    const token = await fx.issuer.sign(claims())
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(token.at(-1) as string)
    // RS256-2048: 342 characters, so the last one carries 4 unused (zero) bits.
    const variants = [1, 2, 3, 15].map((bits) => `${token.slice(0, -1)}${alphabet[last ^ bits]}`)
    for (const v of variants) await refused(v, /malformed base64url/)
    expect((await fx.verify(token)).replay?.key).toMatch(/^gcp:gce:/)
  })

  it('refuses a service-account-signed token (its own iss), without any fetch', async () => {
    const before = fx.fetched.length
    const sa = generateTestKey('RS256')
    const payload = JSON.stringify(claims({ iss: 'web@acme-prod.iam.gserviceaccount.com' }))
    await refused(
      signCompact(sa.privateKey, 'RS256', { alg: 'RS256', kid: sa.kid }, payload),
      /issuer is not trusted/,
    )
    expect(fx.fetched.length).toBe(before)
  })

  it("refuses a service account's key claiming Google's issuer", async () => {
    const sa = generateTestKey('RS256')
    const payload = JSON.stringify(claims())
    await refused(signCompact(sa.privateKey, 'RS256', { alg: 'RS256', kid: sa.kid }, payload), /unknown kid/)
    await refused(
      signCompact(sa.privateKey, 'RS256', { alg: 'RS256', kid: fx.issuer.kid }, payload),
      /signature/,
    )
  })

  it('refuses a token without google.compute_engine (format=standard, or outside a VM)', async () => {
    await refused(await fx.issuer.sign(claims({ google: undefined })), /no google.compute_engine/)
    await refused(await fx.issuer.sign(claims({ google: {} })), /no google.compute_engine/)
    await refused(await fx.issuer.sign(claims({ google: 'x' })), /no google.compute_engine/)
  })

  it('refuses incomplete or mistyped compute_engine claims', async () => {
    const { zone: _zone, ...noZone } = ENGINE
    for (const engine of [noZone, { ...ENGINE, project_number: '123' }, { ...ENGINE, instance_id: 42 }, []]) {
      await refused(
        await fx.issuer.sign(claims({ google: { compute_engine: engine } })),
        /incomplete or mistyped/,
      )
    }
  })

  it('refuses a wrong audience', async () => {
    await refused(await fx.issuer.sign(claims({ aud: '32555940559.apps.googleusercontent.com' })), /audience/)
  })

  it('refuses a lifetime over one hour, or a missing iat', async () => {
    await refused(await fx.issuer.sign(claims({ exp: now + 3601 })), /lifetime exceeds one hour/)
    await refused(await fx.issuer.sign(claims({ iat: undefined })), /no iat/)
  })

  it('refuses a project that is not pinned, without naming it', async () => {
    const err = await refused(
      await fx.issuer.sign(claims({ google: { compute_engine: { ...ENGINE, project_id: 'evil-proj' } } })),
      /project is not trusted/,
    )
    expect(err.message).not.toContain('evil-proj')
  })

  it('refuses algorithms other than RS256', async () => {
    expect(oidcProvider({ preset: 'gcp-instance', projects: ['p'] }).algorithms).toEqual(['RS256'])
    await refused(await fx.issuer.sign(claims(), { alg: 'ES256' }), /alg is not accepted/)
    expect(() => checkGcpInstance({ projects: ['acme-prod'] }, 'ES256', claims())).toThrow(/RS256/)
  })

  it('recognises both preset names', () => {
    expect(isGcpInstanceProvider({ preset: 'gcp' })).toBe(true)
    expect(isGcpInstanceProvider({ preset: 'gcp-instance' })).toBe(true)
    expect(isGcpInstanceProvider({ preset: 'github-actions' })).toBe(false)
  })
})

describe('gcp-instance: policy explain decides on the claims the broker decides on', () => {
  const QUEUE = 'https://queue.example.com'
  const SHELL = 'https://shell.example.com'
  const config = () =>
    loadConfigText(
      `issuer: https://sts.example.com
providers:
  - { name: gce, kind: oidc, preset: gcp-instance, audiences: [${BROKER}], projects: [acme-prod] }
policies:
  - name: signed-instance
    provider: gce
    match: { instance_id: "${ENGINE.instance_id}" }
    grant: { token: { audience: ${QUEUE}, ttl: 10m } }
  - name: flat-claim
    provider: gce
    match: { instance_id: "attacker-chosen" }
    grant: { token: { audience: ${SHELL}, ttl: 10m } }
`,
      'gcp.yaml',
    ).config

  it('a flat instance_id never overrides the signed google.compute_engine one, in either', async () => {
    const token = await fx.issuer.sign(claims({ instance_id: 'attacker-chosen', zone: 'flat-zone' }))
    const subject = await fx.verify(token)
    expect(subject.claims).toMatchObject({ instance_id: ENGINE.instance_id, zone: ENGINE.zone })
    const cfg = config()
    const broker = (audience: string) =>
      evaluate(compilePolicies(cfg), {
        provider: 'gce',
        claims: subject.claims,
        audiences: [audience],
        resources: [],
      })
    const explained = (audience: string, verified?: { claims: Record<string, unknown> }) =>
      explainToken({
        config: cfg,
        token,
        audiences: [audience],
        resources: [],
        now: fx.clock.now,
        ...(verified ? { verified } : {}),
      })
    for (const [audience, allowed] of [
      [QUEUE, true],
      [SHELL, false],
    ] as const) {
      expect(broker(audience).allow).toBe(allowed)
      expect(explained(audience).allowed).toBe(allowed)
      expect(explained(audience, { claims: subject.claims }).allowed).toBe(allowed)
    }
    expect(explained(QUEUE).text).toContain(`✓ instance_id  "${ENGINE.instance_id}"`)
  })

  it('explain decodes a token the broker refuses to decode the same way (one decoder)', () => {
    const cfg = config()
    for (const bad of ['a.b', 'a.b.c.d.e', `${'A'.repeat(20_001)}.b.c`]) {
      expect(() => explainToken({ config: cfg, token: bad, audiences: [], resources: [], now: 0 })).toThrow(
        InvalidRequest,
      )
    }
  })
})

import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// Attacker keys are 3072-bit: the helper's pool reuses 2048-bit keys, which could hand back the issuer's own key.
import {
  generateTestKey,
  signCompact,
  signCompactText,
  startTestIssuer,
  type TestIssuer,
} from '../helpers/oidc-issuer.js'
import { expectRejected, goodClaims, type Harness, startHarness } from './harness.js'

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

describe('attack suite: every forged, spoofed or malformed request is refused and nothing is minted', () => {
  let h: Harness
  let evil: TestIssuer
  let mintedBefore: number

  beforeAll(async () => {
    h = await startHarness()
    evil = await startTestIssuer({ alg: 'RS256' })
  })
  afterAll(async () => {
    await h.close()
    await evil.close()
  })

  /** Payload text a real issuer would sign, with overrides. */
  const payload = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      iss: h.issuer.issuer,
      iat: now(),
      exp: now() + 300,
      jti: crypto.randomUUID(),
      ...goodClaims(h),
      ...extra,
    })
  const header = (extra: Record<string, unknown> = {}) => ({
    alg: 'RS256',
    kid: h.issuer.kid,
    typ: 'JWT',
    ...extra,
  })
  const signed = (hdr: Record<string, unknown>, body: string) =>
    signCompact(h.issuer.privateKey, 'RS256', hdr, body)
  const unsigned = (hdr: Record<string, unknown>, body: string, sig = '') =>
    `${b64u(JSON.stringify(hdr))}.${b64u(body)}.${sig}`

  async function refused(
    token: string,
    status = 400,
    error = 'invalid_request',
    extra: Record<string, string> = {},
  ) {
    mintedBefore = h.minted()
    const res = await h.post(h.exchangeForm(token, extra))
    const description = await expectRejected(res, status, error)
    expect(h.minted()).toBe(mintedBefore)
    return description
  }

  it('control: a correct assertion is exchanged', async () => {
    const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    expect(res.status).toBe(200)
    expect(((await res.json()) as { token_type: string }).token_type).toBe('Bearer')
  })

  describe('algorithm confusion', () => {
    it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s with an empty signature', async (alg) => {
      await refused(unsigned(header({ alg }), payload()))
    })
    it('alg none with a garbage signature', async () => {
      await refused(unsigned(header({ alg: 'none' }), payload(), b64u('sig')))
    })
    it('HS256 keyed with the public key (PEM and JWK n)', async () => {
      const pem = h.issuer.publicJwk.n as string
      for (const secret of [pem, JSON.stringify(h.issuer.publicJwk)]) {
        const input = `${b64u(JSON.stringify(header({ alg: 'HS256' })))}.${b64u(payload())}`
        const sig = createHmac('sha256', secret).update(input).digest('base64url')
        await refused(`${input}.${sig}`)
      }
    })
    it('an RS256 key used under alg PS256 or ES256', async () => {
      await refused(signed(header({ alg: 'PS256' }), payload()))
      await refused(signed(header({ alg: 'ES256' }), payload()))
    })
    it('a crit header', async () => {
      await refused(signed(header({ crit: ['exp'] }), payload()))
    })
  })

  describe('issuer and key spoofing', () => {
    it('an unknown issuer is refused without any fetch', async () => {
      const token = await evil.sign({ ...goodClaims(h) })
      const before = evil.hits()
      await refused(token)
      expect(evil.hits()).toBe(before)
    })
    it.each([
      ['trailing slash', (i: string) => `${i}/`],
      ['upper case', (i: string) => i.toUpperCase()],
      ['path suffix', (i: string) => `${i}/evil`],
    ])('an issuer spelt differently (%s)', async (_, spell) => {
      await refused(signed(header(), payload({ iss: spell(h.issuer.issuer) })))
    })
    it.each(['jku', 'x5u'])('a %s header is never fetched', async (name) => {
      const attacker = generateTestKey('RS256', 3072)
      const token = signCompact(
        attacker.privateKey,
        'RS256',
        header({ kid: attacker.kid, [name]: evil.jwksUri }),
        payload(),
      )
      const before = evil.hits()
      await refused(token)
      expect(evil.hits()).toBe(before)
    })
    it('an embedded jwk header is never used', async () => {
      const attacker = generateTestKey('RS256', 3072)
      await refused(
        signCompact(
          attacker.privateKey,
          'RS256',
          header({ kid: attacker.kid, jwk: attacker.publicJwk }),
          payload(),
        ),
      )
    })
    it('an x5c header is never used', async () => {
      const attacker = generateTestKey('RS256', 3072)
      await refused(signCompact(attacker.privateKey, 'RS256', header({ x5c: ['MIIB'] }), payload()))
    })
    it('an unknown kid', async () => {
      await refused(signed(header({ kid: 'no-such-key' }), payload()))
    })
    it('a signature by another key under the right kid', async () => {
      const attacker = generateTestKey('RS256', 3072)
      await refused(signCompact(attacker.privateKey, 'RS256', header(), payload()))
    })
    it('a Tessera-minted access token presented as the subject', async () => {
      const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
      const { access_token } = (await res.json()) as { access_token: string }
      await refused(access_token)
    })
  })

  describe('claims', () => {
    it.each([
      ['wrong audience', { aud: 'https://someone-else.example' }],
      ['audience list without us', { aud: ['https://a.example', 'https://b.example'] }],
      ['expired', { exp: now() - 120 }],
      ['future nbf', { nbf: now() + 600 }],
      ['future iat', { iat: now() + 600 }],
      ['exp as a string', { exp: String(now() + 300) }],
      ['exp negative', { exp: -1 }],
      ['exp fractional', { exp: now() + 300.5 }],
      ['exp 1e300', { exp: 1e300 }],
      ['missing sub', { sub: undefined }],
      ['missing exp', { exp: undefined }],
      ['empty sub', { sub: '' }],
      ['numeric sub', { sub: 42 }],
      ['iss not a string', { iss: [h?.issuer?.issuer] }],
    ])('%s', async (_, claims) => {
      await refused(signed(header(), payload(claims)))
    })
    it('exp = 1e400 (overflows to Infinity)', async () => {
      const text = payload().replace(/"exp":\d+/, '"exp":1e400')
      await refused(signed(header(), text))
    })
    it('a duplicated payload member (sub twice)', async () => {
      const text = `${payload().slice(0, -1)},"sub":"repo:evil/app:ref:refs/heads/main"}`
      await refused(signed(header(), text))
    })
    it('a duplicated header member (alg twice)', async () => {
      const token = signCompactText(
        h.issuer.privateKey,
        'RS256',
        `{"alg":"RS256","kid":"${h.issuer.kid}","alg":"none"}`,
        payload(),
      )
      await refused(token)
    })
  })

  describe('malformed tokens', () => {
    it.each([
      ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0'],
      ['five segments (JWE)', 'a.b.c.d.e'],
      ['bad base64', '!!!.???.***'],
      ['payload not JSON', `${b64u('{"alg":"RS256"}')}.${b64u('not json')}.${b64u('sig')}`],
      ['payload a JSON array', `${b64u('{"alg":"RS256"}')}.${b64u('[1,2]')}.${b64u('sig')}`],
      ['whitespace inside', 'eyJhbGciOiJSUzI1NiJ9 .eyJzdWIiOiJ4In0.c2ln'],
    ])('%s', async (_, token) => {
      await refused(token)
    })
    it('an oversized token (> 20,000 characters)', async () => {
      await refused(signed(header(), payload({ pad: 'x'.repeat(20_000) })))
    })
  })

  describe('replay and policy matching', () => {
    it('a replayed jti', async () => {
      const token = await h.issuer.sign(goodClaims(h))
      expect((await h.post(h.exchangeForm(token))).status).toBe(200)
      await refused(token)
    })
    it('a missing jti when replay protection is on', async () => {
      await refused(signed(header(), payload({ jti: undefined })))
    })
    it.each([
      ['alternation injection', 'evil|acme/ci/x@refs/heads/main'],
      ['newline after', 'acme/ci/x@refs/heads/main\nevil'],
      ['newline before', 'evil\nacme/ci/x@refs/heads/main'],
      ['prefix', 'evil/acme/ci/x@refs/heads/main'],
    ])('regex claim injection: %s', async (_, value) => {
      await refused(
        await h.issuer.sign({ ...goodClaims(h), job_workflow_ref: value }),
        400,
        'invalid_target',
        {
          audience: 'https://ci.example.com',
        },
      )
    })
    it.each([
      ['/ across *', 'repo:acme/app:ref:refs/heads/release/a/b'],
      [': across *', 'repo:acme/app:ref:refs/heads/release/a:b'],
      ['newline in segment', 'repo:acme/app:ref:refs/heads/release/a\nrepo:x'],
    ])('glob claim injection: %s', async (_, sub) => {
      await refused(await h.issuer.sign({ ...goodClaims(h), sub }), 400, 'invalid_target', {
        audience: 'https://releases.example.com',
      })
    })
    it.each([
      ['number for a string', 123456],
      ['array of numbers', [123456]],
      ['object', { id: '123456' }],
      ['null', null],
    ])('type confusion on repository_owner_id: %s', async (_, value) => {
      await refused(await h.issuer.sign(goodClaims(h, { repository_owner_id: value })), 400, 'invalid_target')
    })
    it('a scope beyond the grant', async () => {
      await refused(await h.issuer.sign(goodClaims(h)), 400, 'invalid_scope', { scope: 'deploy:write admin' })
    })
    it('an audience no policy grants', async () => {
      await refused(await h.issuer.sign(goodClaims(h)), 400, 'invalid_target', {
        audience: 'https://prod-db.example.com',
      })
    })
    it('two audiences that no single policy grants together', async () => {
      const form = h.exchangeForm(await h.issuer.sign(goodClaims(h)), {
        audience: ['https://api.example.com', 'https://releases.example.com'],
      })
      mintedBefore = h.minted()
      await expectRejected(await h.post(form), 400, 'invalid_target')
      expect(h.minted()).toBe(mintedBefore)
    })
    it('denials never echo policy patterns', async () => {
      const d = await refused(
        await h.issuer.sign({ ...goodClaims(h), job_workflow_ref: 'x' }),
        400,
        'invalid_target',
        {
          audience: 'https://ci.example.com',
        },
      )
      expect(d).not.toContain('acme/ci')
      expect(d).not.toContain('workflow')
    })
  })
})

describe('attack suite: ES256 issuer', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ alg: 'ES256' })
  })
  afterAll(() => h.close())

  it.each([
    ['all-zero 64-byte signature ("psychic signature")', Buffer.alloc(64)],
    [
      'r = s = n (group order)',
      Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'.repeat(2), 'hex'),
    ],
    ['a DER-encoded signature instead of r||s', Buffer.from('3006020100020100', 'hex')],
    ['a truncated signature', Buffer.alloc(32, 1)],
  ])('%s', async (_, sig) => {
    const hdr = b64u(JSON.stringify({ alg: 'ES256', kid: h.issuer.kid, typ: 'JWT' }))
    const body = b64u(
      JSON.stringify({
        iss: h.issuer.issuer,
        iat: now(),
        exp: now() + 300,
        jti: crypto.randomUUID(),
        ...goodClaims(h),
      }),
    )
    const before = h.minted()
    await expectRejected(await h.post(h.exchangeForm(`${hdr}.${body}.${b64u(sig)}`)), 400, 'invalid_request')
    expect(h.minted()).toBe(before)
  })

  it('control: a correct ES256 assertion is exchanged', async () => {
    expect((await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))).status).toBe(200)
  })
})

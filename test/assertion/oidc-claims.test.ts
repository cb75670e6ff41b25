import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkJwtClaims } from '../../lib/assertion/jwt-claims.js'
import { InvalidRequest } from '../../lib/errors.js'
import { REPLAY_MARGIN_SECONDS } from '../../lib/store/replay.js'
import { BROKER, type OidcFixture, setupOidc } from './oidc-fixture.js'

const SUB = 'repo:acme/app:ref:refs/heads/main'
let fx: OidcFixture
let once: OidcFixture
let now: number

beforeAll(async () => {
  fx = await setupOidc({ maxTokenAge: '15m' })
  once = await setupOidc({
    name: 'gl',
    replay: 'once',
    audiences: ['https://a.example', 'https://b.example'],
  })
  now = Math.floor(fx.clock.now / 1000)
})
afterAll(async () => {
  await fx.close()
  await once.close()
})

const base = () => ({ sub: SUB, aud: BROKER, iat: now, exp: now + 300 })

async function refused(token: string, message: RegExp, f: OidcFixture = fx) {
  const err = await f.refuse(token)
  expect(err).toBeInstanceOf(InvalidRequest)
  expect(err.message).toMatch(message)
}

/** Payload text with a raw numeric literal (JSON.stringify cannot write 1e400). */
const rawPayload = (claim: string, literal: string) =>
  `{"iss":"${fx.issuer.issuer}","sub":"${SUB}","aud":"${BROKER}","iat":${now},"exp":${now + 300},"${claim}":${literal}}`

describe('oidc claims: accepted', () => {
  it('accepts the default audience (the broker issuer) and aud arrays', async () => {
    expect((await fx.verify(await fx.issuer.sign(base()))).sub).toBe(SUB)
    expect((await fx.verify(await fx.issuer.sign({ ...base(), aud: ['other', BROKER] }))).sub).toBe(SUB)
  })

  it('accepts any configured audience', async () => {
    const token = await once.issuer.sign({ ...base(), aud: 'https://b.example' })
    expect((await once.verify(token)).sub).toBe(SUB)
  })

  it('allows the clock tolerance on exp, nbf and iat', async () => {
    const token = await fx.issuer.sign({ ...base(), iat: now + 20, nbf: now + 25, exp: now - 20 })
    expect((await fx.verify(token)).expiresAt).toBe(now - 20)
  })

  it('accepts a token within maxTokenAge', async () => {
    expect((await fx.verify(await fx.issuer.sign({ ...base(), iat: now - 900 }))).sub).toBe(SUB)
  })

  it('reports the replay key for replay: once (exp + tolerance + the replay margin), and none otherwise', async () => {
    const subject = await once.verify(
      await once.issuer.sign({ ...base(), aud: 'https://a.example', jti: 'j-1' }),
    )
    expect(subject.replay).toEqual({ key: 'oidc:gl:j-1', expiresAt: now + 300 + 30 + REPLAY_MARGIN_SECONDS })
    expect((await fx.verify(await fx.issuer.sign(base()))).replay).toBeUndefined()
  })
})

describe('oidc claims: refused', () => {
  it('refuses a wrong, missing or malformed audience', async () => {
    await refused(
      await fx.issuer.sign({ ...base(), aud: 'https://other.example' }),
      /audience is not accepted/,
    )
    await refused(await fx.issuer.sign({ ...base(), aud: [`${BROKER}/`, 'x'] }), /audience is not accepted/)
    await refused(await fx.issuer.sign({ ...base(), aud: undefined }), /no aud/)
    await refused(await fx.issuer.sign({ ...base(), aud: [] }), /aud must be/)
    await refused(await fx.issuer.sign({ ...base(), aud: [BROKER, 7] }), /aud must be/)
    await refused(await fx.issuer.sign({ ...base(), aud: { BROKER } }), /aud must be/)
    // A configured audience list replaces the default: the broker issuer alone is not enough.
    await refused(await once.issuer.sign({ ...base(), jti: 'x' }), /audience is not accepted/, once)
  })

  it('refuses an expired token', async () => {
    await refused(await fx.issuer.sign({ ...base(), iat: now - 600, exp: now - 31 }), /expired/)
    await refused(await fx.issuer.sign({ ...base(), iat: 0, exp: 1 }), /expired|too old/)
  })

  it('refuses a future nbf or iat', async () => {
    await refused(await fx.issuer.sign({ ...base(), nbf: now + 31 }), /not yet valid/)
    await refused(await fx.issuer.sign({ ...base(), iat: now + 31 }), /issued in the future/)
  })

  for (const [claim, literal] of [
    ['exp', '1e400'],
    ['exp', '1e300'],
    ['exp', '"9999999999"'],
    ['exp', '-1'],
    ['exp', '1700000000.5'],
    ['exp', 'null'],
    ['exp', 'true'],
    ['exp', '9007199254740993'],
    ['nbf', '1e400'],
    ['nbf', '-5'],
    ['iat', '"0"'],
    ['iat', '1.5'],
  ] as const) {
    it(`refuses ${claim} = ${literal}`, async () => {
      const text = rawPayload(claim, literal).replace(`"${claim}":${claim === 'iat' ? now : now + 300},`, '')
      await refused(await fx.issuer.signRaw(text), new RegExp(`${claim} must be a non-negative integer`))
    })
  }

  it('refuses a missing exp', async () => {
    await refused(await fx.issuer.sign({ ...base(), exp: undefined }), /no exp/)
  })

  it('refuses a missing, empty or non-string sub', async () => {
    await refused(await fx.issuer.sign({ ...base(), sub: undefined }), /no sub/)
    await refused(await fx.issuer.sign({ ...base(), sub: '' }), /sub must be a non-empty string/)
    await refused(await fx.issuer.sign({ ...base(), sub: 42 }), /sub must be a non-empty string/)
    await refused(await fx.issuer.sign({ ...base(), sub: ['a'] }), /sub must be a non-empty string/)
  })

  it('refuses a token older than maxTokenAge, or without iat when a max age is set', async () => {
    await refused(await fx.issuer.sign({ ...base(), iat: now - 900 - 31 }), /too old/)
    await refused(await fx.issuer.sign({ ...base(), iat: undefined }), /no iat/)
  })

  it('refuses a missing or malformed jti when replay is once', async () => {
    const ok = { ...base(), aud: 'https://a.example' }
    await refused(await once.issuer.sign({ ...ok, jti: undefined }), /no jti/, once)
    await refused(await once.issuer.sign({ ...ok, jti: '' }), /jti must be/, once)
    await refused(await once.issuer.sign({ ...ok, jti: 'x'.repeat(257) }), /jti must be/, once)
    await refused(await once.issuer.sign({ ...ok, jti: 12345 }), /jti must be/, once)
  })
})

describe('checkJwtClaims (property)', () => {
  const rules = { now: 1_700_000_000_000, clockTolerance: 30, audiences: ['a'] }
  it('refuses every exp that is not a safe non-negative integer', () => {
    const bad = fc.oneof(
      fc.double().filter((d) => !Number.isSafeInteger(d) || d < 0),
      fc.integer({ max: -1 }),
      fc.string(),
      fc.constant(null),
      fc.boolean(),
      fc.constant(Number.MAX_SAFE_INTEGER + 1),
    )
    fc.assert(
      fc.property(bad, (exp) => {
        expect(() => checkJwtClaims({ sub: 's', aud: 'a', exp }, rules)).toThrow(/exp must be/)
      }),
    )
  })

  it('accepts every integer exp in the future', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_700_000_000, max: Number.MAX_SAFE_INTEGER }), (exp) => {
        expect(checkJwtClaims({ sub: 's', aud: 'a', exp }, rules).exp).toBe(exp)
      }),
    )
  })
})

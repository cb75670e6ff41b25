import { createHmac, generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidRequest } from '../../lib/errors.js'
import {
  generateTestKey,
  sha256b64u,
  signCompact,
  signCompactText,
  startTestIssuer,
} from '../helpers/oidc-issuer.js'
import { BROKER, type OidcFixture, oidcProvider, setupOidc } from './oidc-fixture.js'

const b64u = (data: string | Buffer) => Buffer.from(data).toString('base64url')
const CLAIMS = { sub: 'repo:acme/app:ref:refs/heads/main', aud: BROKER }

let fx: OidcFixture
const extra: { close(): Promise<void> }[] = []
afterEach(async () => {
  await fx?.close()
  for (const s of extra.splice(0)) await s.close()
})

/** Asserts an invalid_request whose message matches and that never echoes the token. */
async function expectRefused(token: string, message: RegExp) {
  const err = await fx.refuse(token)
  expect(err).toBeInstanceOf(InvalidRequest)
  expect(err.status).toBe(400)
  expect(err.message).toMatch(message)
  if (token.length >= 20) expect(err.message).not.toContain(token.slice(0, 20))
  return err
}

describe('oidc verifier: accepted tokens', () => {
  it('verifies an RS256 token and reports the subject', async () => {
    fx = await setupOidc()
    const token = await fx.issuer.sign({ ...CLAIMS, repository: 'acme/app' })
    const subject = await fx.verify(token)
    expect(subject).toMatchObject({ provider: 'ci', kind: 'oidc', issuer: fx.issuer.issuer, sub: CLAIMS.sub })
    expect(subject.claims.repository).toBe('acme/app')
    expect(subject.tokenHash).toBe(sha256b64u(token))
    expect(subject.expiresAt).toBe(subject.claims.exp)
    expect(subject.replay).toBeUndefined()
    expect(fx.verifier.tokenTypes).toEqual([
      'urn:ietf:params:oauth:token-type:jwt',
      'urn:ietf:params:oauth:token-type:id_token',
    ])
  })

  it('verifies an ES256 token from an issuer under a sub-path', async () => {
    fx = await setupOidc({}, { alg: 'ES256', path: '/tenant' })
    expect(fx.issuer.issuer).toMatch(/\/tenant$/)
    const subject = await fx.verify(await fx.issuer.sign(CLAIMS))
    expect(subject.sub).toBe(CLAIMS.sub)
    expect(fx.issuer.hits('/.well-known/openid-configuration')).toBe(1)
    expect(fx.hookCalls).toEqual([`discovery ${fx.issuer.issuer}`, `jwks ${fx.issuer.issuer}`])
  })

  it('accepts a token without kid when exactly one key fits', async () => {
    fx = await setupOidc()
    const subject = await fx.verify(await fx.issuer.sign(CLAIMS, { kid: undefined }))
    expect(subject.sub).toBe(CLAIMS.sub)
  })

  it('uses a configured jwksUri without discovery', async () => {
    const issuer = await startTestIssuer()
    extra.push(issuer)
    fx = await setupOidc({ jwksUri: issuer.jwksUri, issuer: issuer.issuer })
    await fx.verify(await issuer.sign(CLAIMS))
    expect(issuer.hits('/.well-known/openid-configuration')).toBe(0)
    expect(issuer.hits('/jwks')).toBe(1)
  })
})

describe('oidc verifier: algorithm attacks', () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    it(`refuses alg ${alg} without fetching keys`, async () => {
      fx = await setupOidc()
      const body = b64u(
        JSON.stringify({ iss: fx.issuer.issuer, ...CLAIMS, exp: Math.floor(Date.now() / 1000) + 60 }),
      )
      await expectRefused(`${b64u(JSON.stringify({ alg }))}.${body}.${b64u('x')}`, /alg is not allowed/)
      // The unsigned form (empty signature) is refused as malformed.
      await expectRefused(`${b64u(JSON.stringify({ alg }))}.${body}.`, /not a signed JWT/)
      expect(fx.issuer.hits()).toBe(0)
    })
  }

  it('refuses HS256 keyed with the public key', async () => {
    fx = await setupOidc()
    const header = b64u(JSON.stringify({ alg: 'HS256', kid: fx.issuer.kid }))
    const body = b64u(
      JSON.stringify({ iss: fx.issuer.issuer, ...CLAIMS, exp: Math.floor(Date.now() / 1000) + 60 }),
    )
    for (const secret of [JSON.stringify(fx.issuer.publicJwk), fx.issuer.publicJwk.n ?? '']) {
      const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url')
      await expectRefused(`${header}.${body}.${sig}`, /alg is not allowed/)
    }
    expect(fx.issuer.hits()).toBe(0)
  })

  it('refuses an alg outside the provider list before any fetch', async () => {
    fx = await setupOidc({ algorithms: ['ES256'] })
    await expectRefused(await fx.issuer.sign(CLAIMS), /alg is not accepted/)
    expect(fx.issuer.hits()).toBe(0)
  })

  it('refuses an RSA signature relabelled as ES256 (alg confusion)', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.sign(CLAIMS, { alg: 'ES256' }), /unknown kid/)
  })

  it('refuses an ES256 all-zero ("psychic") signature', async () => {
    fx = await setupOidc({}, { alg: 'ES256' })
    const [h, p] = (await fx.issuer.sign(CLAIMS)).split('.')
    await expectRefused(`${h}.${p}.${b64u(Buffer.alloc(64))}`, /signature is invalid/)
  })

  it('refuses an ES256 signature in DER form or of the wrong length', async () => {
    fx = await setupOidc({}, { alg: 'ES256' })
    const [h, p, s] = (await fx.issuer.sign(CLAIMS)).split('.')
    const raw = Buffer.from(s!, 'base64url')
    await expectRefused(`${h}.${p}.${b64u(Buffer.concat([raw, Buffer.from([0])]))}`, /signature is invalid/)
    await expectRefused(`${h}.${p}.${b64u(raw.subarray(0, 63))}`, /signature is invalid/)
  })

  it('refuses a signature made by another key under the published kid', async () => {
    fx = await setupOidc()
    const other = generateTestKey('RS256')
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    const token = signCompact(other.privateKey, 'RS256', { alg: 'RS256', kid: fx.issuer.kid }, payload)
    await expectRefused(token, /signature is invalid/)
  })

  it('refuses a tampered payload', async () => {
    fx = await setupOidc()
    const [h, , s] = (await fx.issuer.sign(CLAIMS)).split('.')
    const forged = b64u(
      JSON.stringify({ iss: fx.issuer.issuer, ...CLAIMS, sub: 'admin', exp: 9_999_999_999 }),
    )
    await expectRefused(`${h}.${forged}.${s}`, /signature is invalid/)
  })
})

describe('oidc verifier: key-location headers are never followed', () => {
  const attackerHeaders = async (kid: string) => {
    const attacker = await startTestIssuer()
    extra.push(attacker)
    return { attacker, headers: { jku: attacker.jwksUri, x5u: `${attacker.issuer}/cert.pem`, kid } }
  }

  it('ignores jku/x5u pointing at an attacker issuer (nothing fetched there)', async () => {
    fx = await setupOidc()
    const { attacker, headers } = await attackerHeaders('attacker-kid')
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    const token = signCompact(
      attacker.privateKey,
      'RS256',
      { alg: 'RS256', ...headers, kid: attacker.kid },
      payload,
    )
    await expectRefused(token, /unknown kid/)
    expect(attacker.hits()).toBe(0)
    expect(fx.fetched.every((u) => u.startsWith(fx.issuer.issuer))).toBe(true)
  })

  it('ignores jku/x5u even under the legitimate kid', async () => {
    fx = await setupOidc()
    const { attacker, headers } = await attackerHeaders(fx.issuer.kid)
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    await expectRefused(
      signCompact(attacker.privateKey, 'RS256', { alg: 'RS256', ...headers }, payload),
      /signature is invalid/,
    )
    expect(attacker.hits()).toBe(0)
  })

  it('ignores an embedded jwk header carrying the signing key', async () => {
    fx = await setupOidc()
    const attacker = generateTestKey('RS256')
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    const header = { alg: 'RS256', jwk: attacker.publicJwk }
    // Without kid: the provider's single key is used, not the embedded one.
    await expectRefused(signCompact(attacker.privateKey, 'RS256', header, payload), /signature is invalid/)
    await expectRefused(
      signCompact(attacker.privateKey, 'RS256', { ...header, kid: attacker.kid }, payload),
      /unknown kid/,
    )
  })

  it('ignores an x5c header', async () => {
    fx = await setupOidc()
    const attacker = generateTestKey('RS256')
    const der = attacker.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    await expectRefused(
      signCompact(attacker.privateKey, 'RS256', { alg: 'RS256', x5c: [der] }, payload),
      /signature is invalid/,
    )
  })
})

describe('oidc verifier: issuer selection', () => {
  it('refuses an unknown issuer without any fetch', async () => {
    fx = await setupOidc()
    const other = await startTestIssuer()
    extra.push(other)
    await expectRefused(await other.sign(CLAIMS), /issuer is not trusted/)
    expect(other.hits()).toBe(0)
    expect(fx.issuer.hits()).toBe(0)
    expect(fx.fetched).toEqual([])
  })

  it('matches the issuer exactly (trailing slash, case, prefix)', async () => {
    fx = await setupOidc()
    for (const iss of [
      `${fx.issuer.issuer}/`,
      fx.issuer.issuer.toUpperCase(),
      `${fx.issuer.issuer}/x`,
      'http://127.0.0.1',
    ]) {
      await expectRefused(await fx.issuer.sign({ ...CLAIMS, iss }), /issuer is not trusted/)
    }
    expect(fx.issuer.hits()).toBe(0)
  })

  it('refuses a missing or non-string iss', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.sign({ ...CLAIMS, iss: undefined }), /no iss/)
    await expectRefused(await fx.issuer.sign({ ...CLAIMS, iss: [fx.issuer.issuer] }), /no iss/)
  })

  it('refuses tokens issued by the broker itself, and access tokens (typ at+jwt)', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.sign({ ...CLAIMS, iss: BROKER }), /issued by this broker/)
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT']) {
      await expectRefused(await fx.issuer.sign(CLAIMS, { typ }), /access token/)
    }
    expect(fx.issuer.hits()).toBe(0)
  })

  it('refuses two providers configured with one issuer', async () => {
    const dup = oidcProvider({ name: 'twin', issuer: 'https://idp.example.com' })
    await expect(setupOidc({ issuer: 'https://idp.example.com' }, { extraProviders: [dup] })).rejects.toThrow(
      /more than once/,
    )
  })
})

describe('oidc verifier: malformed tokens', () => {
  it('refuses a token over 20,000 characters before parsing', async () => {
    fx = await setupOidc()
    const token = await fx.issuer.sign({ ...CLAIMS, pad: 'x'.repeat(20_000) })
    await expectRefused(token, /exceeds 20000/)
    await expectRefused('a'.repeat(50_000), /exceeds 20000/)
    expect(fx.issuer.hits()).toBe(0)
  })

  it('refuses wrong segment counts, including a 5-part JWE', async () => {
    fx = await setupOidc()
    await expectRefused('', /not a signed JWT/)
    await expectRefused('abc', /not a signed JWT/)
    await expectRefused('abc.def', /not a signed JWT/)
    await expectRefused('abcd.efgh.ijkl.mnop', /not a signed JWT/)
    await expectRefused('eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y3Q.dGFn', /encrypted/)
  })

  it('refuses malformed base64url (padding, +/, spaces, impossible lengths)', async () => {
    fx = await setupOidc()
    const [h, p, s] = (await fx.issuer.sign(CLAIMS)).split('.')
    for (const bad of [
      `${h}=.${p}.${s}`,
      `${h}.${p}.${s}+`,
      `${h}.${p}/.${s}`,
      ` ${h}.${p}.${s}`,
      `${h}.${p}.${s}\n`,
      `${h}.${p}a.${s}`,
    ]) {
      await expectRefused(bad, /not a signed JWT|not strict JSON/)
    }
  })

  it('refuses duplicated header members', async () => {
    fx = await setupOidc()
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    const headerText = `{"alg":"RS256","kid":"${fx.issuer.kid}","kid":"${fx.issuer.kid}"}`
    await expectRefused(
      signCompactText(fx.issuer.privateKey, 'RS256', headerText, payload),
      /header is not strict JSON/,
    )
  })

  it('refuses duplicated payload members, at any depth', async () => {
    fx = await setupOidc()
    const exp = Math.floor(Date.now() / 1000) + 60
    const base = `"iss":"${fx.issuer.issuer}","aud":"${BROKER}","exp":${exp}`
    for (const text of [`{${base},"sub":"a","sub":"b"}`, `{${base},"sub":"a","x":{"y":1,"\\u0079":2}}`]) {
      await expectRefused(await fx.issuer.signRaw(text), /payload is not strict JSON/)
    }
  })

  it('refuses a header or payload that is not a JSON object', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.signRaw('[1,2]'), /payload is not a JSON object/)
    await expectRefused(await fx.issuer.signRaw('"text"'), /payload is not a JSON object/)
    await expectRefused(await fx.issuer.signRaw('not json'), /payload is not strict JSON/)
    await expectRefused(`${b64u('[]')}.${b64u('{}')}.${b64u('x')}`, /header is not a JSON object/)
    await expectRefused(
      `${b64u(Buffer.from([0xff, 0xfe]))}.${b64u('{}')}.${b64u('x')}`,
      /header is not strict JSON/,
    )
  })

  it('refuses crit, b64 and a non-string kid', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.sign(CLAIMS, { crit: ['exp'], exp: 1 }), /extensions/)
    await expectRefused(await fx.issuer.sign(CLAIMS, { b64: false, crit: ['b64'] }), /extensions/)
    await expectRefused(await fx.issuer.sign(CLAIMS, { b64: true }), /extensions/)
    await expectRefused(await fx.issuer.sign(CLAIMS, { kid: 7 }), /kid must be/)
    await expectRefused(await fx.issuer.sign(CLAIMS, { kid: '' }), /kid must be/)
    await expectRefused(await fx.issuer.sign(CLAIMS, { alg: 7 }), /no alg/)
    expect(fx.issuer.hits()).toBe(0)
  })
})

describe('oidc verifier: key selection', () => {
  it('refuses an unknown kid with invalid_request (not 503)', async () => {
    fx = await setupOidc()
    await expectRefused(await fx.issuer.sign(CLAIMS, { kid: 'no-such-key' }), /unknown kid/)
  })

  it('refuses a token without kid when several keys fit', async () => {
    fx = await setupOidc()
    await fx.issuer.rotate({ keepOld: true })
    await expectRefused(await fx.issuer.sign(CLAIMS, { kid: undefined }), /no kid/)
  })

  it('never uses RSA keys under 2048 bits', async () => {
    fx = await setupOidc()
    const weak = generateTestKey('RS256', 1024)
    fx.issuer.setJwks({ keys: [weak.publicJwk] })
    const payload = JSON.stringify({
      iss: fx.issuer.issuer,
      ...CLAIMS,
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    await expectRefused(
      signCompact(weak.privateKey, 'RS256', { alg: 'RS256', kid: weak.kid }, payload),
      /unknown kid/,
    )
  })

  it('never uses keys marked for encryption, for another alg, or without verify in key_ops', async () => {
    fx = await setupOidc()
    const jwk = fx.issuer.publicJwk
    const token = await fx.issuer.sign(CLAIMS)
    for (const variant of [{ use: 'enc' }, { alg: 'RS512' }, { key_ops: ['encrypt'] }, { kty: 'oct' }]) {
      fx.issuer.setJwks({ keys: [{ ...jwk, ...variant }] })
      fx.clock.now += 31_000 // past the unknown-kid cooldown: each variant is really fetched
      await expectRefused(token, /unknown kid/)
    }
  })

  it('does not treat a published private key as anything but its public half', async () => {
    fx = await setupOidc()
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    fx.issuer.setJwks({
      keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'priv' }, fx.issuer.publicJwk],
    })
    expect((await fx.verify(await fx.issuer.sign(CLAIMS))).sub).toBe(CLAIMS.sub)
  })
})

import { decodeJwt, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDpopProof } from '../../lib/client/dpop.js'
import { TokenVerificationError } from '../../lib/errors.js'
import { createTokenVerifier } from '../../verify/index.js'
import { makeProof, proofKey, thumbprint } from '../dpop/proof-fixture.js'
import { DEFAULT_POLICIES, expectRejected, goodClaims, type Harness, startHarness } from './harness.js'

const POLICIES = `${DEFAULT_POLICIES}
  - name: bound-only
    provider: ci
    match: { sub: repo:acme/app:ref:refs/heads/main }
    grant:
      token: { audience: https://bound.example.com, scopes: [read], ttl: 5m, dpop: required }
`
const API = 'https://api.example.com'
const client = proofKey('ES256')
const clientJwk = client.privateJwk as JWK

describe('DPoP at /token (RFC 9449) and at the API', () => {
  let h: Harness
  let tokenUrl: string
  beforeAll(async () => {
    h = await startHarness({ policies: POLICIES })
    tokenUrl = `${h.url}/token`
  })
  afterAll(() => h.close())

  const subject = () => h.issuer.sign(goodClaims(h))
  const proof = (o: { url?: string; method?: string; key?: JWK } = {}) =>
    createDpopProof(o.key ?? clientJwk, { method: o.method ?? 'POST', url: o.url ?? tokenUrl })
  const exchange = async (token: string, dpop?: string, extra: Record<string, string> = {}) =>
    h.post(h.exchangeForm(token, extra), dpop === undefined ? {} : { headers: { dpop } })

  it('advertises the proof algorithms in the metadata', async () => {
    const meta = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >
    expect(meta.dpop_signing_alg_values_supported).toEqual(['ES256', 'RS256'])
  })

  it('binds the token to the proof key: token_type DPoP and cnf.jkt, accepted by the verifier with a proof', async () => {
    const res = await exchange(await subject(), await proof())
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; token_type: string }
    expect(body.token_type).toBe('DPoP')
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: await thumbprint(client) })
    const event = h.audit.events.filter((e) => e.event === 'token.exchange').at(-1)
    expect(event).toMatchObject({ token_type: 'DPoP', cnf: { jkt: await thumbprint(client) } })

    const verifier = createTokenVerifier({
      issuer: h.url,
      audience: API,
      scopes: ['deploy:write'],
      dpop: 'required',
    })
    const url = `${API}/deploy`
    const apiProof = await createDpopProof(clientJwk, { method: 'POST', url, accessToken: body.access_token })
    const claims = await verifier.verify({
      authorization: `DPoP ${body.access_token}`,
      method: 'POST',
      url,
      dpop: apiProof,
    })
    expect(claims).toMatchObject({ client_id: 'deploy-app', cnf: { jkt: await thumbprint(client) } })

    // Copied from a log, the token is useless as a bearer token.
    const asBearer = await createTokenVerifier({ issuer: h.url, audience: API })
      .verify({ authorization: `Bearer ${body.access_token}`, method: 'POST', url })
      .catch((e: unknown) => e)
    expect(asBearer).toBeInstanceOf(TokenVerificationError)
    expect((asBearer as TokenVerificationError).code).toBe('invalid_token')
  })

  it('issues a Bearer token without cnf when no proof is sent, which the verifier accepts as Bearer', async () => {
    const res = await exchange(await subject())
    const body = (await res.json()) as { access_token: string; token_type: string }
    expect(body.token_type).toBe('Bearer')
    expect(decodeJwt(body.access_token).cnf).toBeUndefined()
    const claims = await createTokenVerifier({ issuer: h.url, audience: API }).verify({
      authorization: `Bearer ${body.access_token}`,
      method: 'GET',
      url: `${API}/x`,
    })
    expect(claims.sub).toBe('repo:acme/app:ref:refs/heads/main')
  })

  it('refuses a dpop: required grant without a proof, keeping the subject token usable', async () => {
    const token = await subject()
    const minted = h.minted()
    const form = { audience: 'https://bound.example.com' }
    await expectRejected(await exchange(token, undefined, form), 400, 'invalid_dpop_proof')
    expect(h.minted()).toBe(minted)
    const res = await exchange(token, await proof(), form)
    expect(res.status).toBe(200)
    expect(((await res.json()) as Record<string, unknown>).token_type).toBe('DPoP')
  })

  it('refuses a replayed proof without consuming the new subject token', async () => {
    const once = await proof()
    expect((await exchange(await subject(), once)).status).toBe(200)
    const token = await subject()
    expect(await expectRejected(await exchange(token, once), 400, 'invalid_dpop_proof')).toMatch(
      /already been used/,
    )
    expect((await exchange(token, await proof())).status).toBe(200)
  })

  it('refuses an invalid proof before the policy decides (even for a target nobody grants)', async () => {
    const bad = await proof({ url: `${h.url}/introspect` })
    await expectRejected(
      await exchange(await subject(), bad, { audience: 'https://nobody.example.com' }),
      400,
      'invalid_dpop_proof',
    )
  })

  it('accepts a proof whose htu carries a query (ignored), for the token endpoint', async () => {
    expect((await exchange(await subject(), await proof({ url: `${tokenUrl}?x=1#frag` }))).status).toBe(200)
  })

  describe('every malformed proof is 400 invalid_dpop_proof and mints nothing', () => {
    const now = () => Math.floor(Date.now() / 1000)
    const at = () => ({ htu: tokenUrl, iat: now() })
    const cases: [string, () => Promise<string> | string][] = [
      ['an empty header', () => ''],
      ['garbage', () => 'not-a-proof'],
      ['a proof for GET', () => proof({ method: 'GET' })],
      ['a proof for another endpoint', () => proof({ url: `${h.url}/revoke` })],
      ['a proof for another host', () => proof({ url: 'https://sts.example.com/token' })],
      ['typ JWT', () => makeProof(client, { header: { typ: 'JWT' }, payload: at() })],
      ['alg none', () => makeProof(client, { header: { alg: 'none' }, payload: at() })],
      ['alg HS256', () => makeProof(client, { header: { alg: 'HS256' }, payload: at() })],
      [
        'a private key in the header',
        () => makeProof(client, { header: { jwk: client.privateJwk }, payload: at() }),
      ],
      ['no jwk', () => makeProof(client, { header: { jwk: undefined }, payload: at() })],
      [
        'a signature by another key',
        () => makeProof({ ...proofKey('ES256'), publicJwk: client.publicJwk }, { payload: at() }),
      ],
      ['an iat 2 minutes old', () => makeProof(client, { payload: { htu: tokenUrl, iat: now() - 120 } })],
      ['an iat 2 minutes ahead', () => makeProof(client, { payload: { htu: tokenUrl, iat: now() + 120 } })],
      ['no jti', () => makeProof(client, { payload: { ...at(), jti: undefined } })],
      ['no htm', () => makeProof(client, { payload: { ...at(), htm: undefined } })],
    ]
    it.each(cases)('%s', async (_, make) => {
      const minted = h.minted()
      await expectRejected(await exchange(await subject(), await make()), 400, 'invalid_dpop_proof')
      expect(h.minted()).toBe(minted)
    })

    it('two DPoP headers', async () => {
      const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' })
      headers.append('dpop', await proof())
      headers.append('dpop', await proof())
      const body = new URLSearchParams(h.exchangeForm(await subject()) as Record<string, string>).toString()
      await expectRejected(
        await fetch(tokenUrl, { method: 'POST', headers, body }),
        400,
        'invalid_dpop_proof',
      )
    })
  })
})

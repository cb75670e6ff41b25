import type { JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDpopProof } from '../../lib/client/dpop.js'
import { TokenVerificationError } from '../../lib/errors.js'
import { accessTokenHash, createTokenVerifier, type VerifyRequest } from '../../verify/index.js'
import { makeProof, proofKey } from '../dpop/proof-fixture.js'
import { API, type FakeIssuer, issuerKey, jktOf, signAccessToken, startFakeIssuer } from './issuer-fixture.js'

const signing = issuerKey('key-a')
const client = proofKey('ES256')
const clientKey = client.privateJwk as JWK
const URL_ = 'https://api.example.com/deploy'
let issuer: FakeIssuer
let boundToken: string

beforeAll(async () => {
  issuer = await startFakeIssuer([signing])
  boundToken = await signAccessToken(issuer.url, signing, {
    claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
  })
})
afterAll(() => issuer.close())

const verifierFor = (dpop: 'required' | 'optional' = 'optional') =>
  createTokenVerifier({ issuer: issuer.url, audience: API, dpop })

async function dpopRequest(
  token = boundToken,
  o: { key?: JWK; method?: string; url?: string } = {},
): Promise<VerifyRequest> {
  const proof = await createDpopProof(o.key ?? clientKey, {
    method: o.method ?? 'GET',
    url: o.url ?? URL_,
    accessToken: token,
  })
  return { authorization: `DPoP ${token}`, method: 'GET', url: URL_, dpop: proof }
}

async function refused(p: Promise<unknown>, code: string): Promise<TokenVerificationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(TokenVerificationError)
  const e = err as TokenVerificationError
  expect({ code: e.code, status: e.status }).toEqual({ code, status: 401 })
  expect(e.wwwAuthenticate).toMatch(
    new RegExp(`^DPoP algs="ES256 RS256", error="${code}", error_description="`),
  )
  expect(e.message).not.toMatch(/["\\]/)
  return e
}

describe('verify: DPoP-bound tokens', () => {
  it('accepts a bound token with a proof by its key carrying ath', async () => {
    const claims = await verifierFor().verify(await dpopRequest())
    expect(claims.cnf?.jkt).toBe(await jktOf(client.publicJwk))
  })

  it('accepts the proof when the request URL has a query (ignored by htu) and in required mode', async () => {
    const req = await dpopRequest()
    await expect(verifierFor('required').verify({ ...req, url: `${URL_}?page=2` })).resolves.toBeDefined()
  })

  it('refuses a bound token presented as a Bearer token, even with a valid proof', async () => {
    const req = await dpopRequest()
    const e = await refused(
      verifierFor().verify({ ...req, authorization: `Bearer ${boundToken}` }),
      'invalid_token',
    )
    expect(e.message).toMatch(/DPoP-bound/)
  })

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const plain = await signAccessToken(issuer.url, signing)
    const e = await refused(verifierFor().verify(await dpopRequest(plain)), 'invalid_token')
    expect(e.message).toMatch(/not DPoP-bound/)
  })

  it('refuses a Bearer token when DPoP is required', async () => {
    const plain = await signAccessToken(issuer.url, signing)
    const e = await refused(
      verifierFor('required').verify({ authorization: `Bearer ${plain}`, method: 'GET', url: URL_ }),
      'invalid_token',
    )
    expect(e.message).toMatch(/only DPoP-bound/)
  })

  it('refuses a DPoP token without a proof', async () => {
    const { dpop: _, ...req } = await dpopRequest()
    expect((await refused(verifierFor().verify(req), 'invalid_dpop_proof')).message).toMatch(
      /proof is required/,
    )
  })

  it('refuses a proof made with another key than the bound one', async () => {
    const other = proofKey('ES256').privateJwk as JWK
    const e = await refused(
      verifierFor().verify(await dpopRequest(boundToken, { key: other })),
      'invalid_dpop_proof',
    )
    expect(e.message).toMatch(/not the key the token is bound to/)
  })

  it('refuses a proof for another access token (ath) or none', async () => {
    const other = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    const req = await dpopRequest(other)
    expect(
      (
        await refused(
          verifierFor().verify({ ...req, authorization: `DPoP ${boundToken}` }),
          'invalid_dpop_proof',
        )
      ).message,
    ).toMatch(/ath/)
    const noAth = await createDpopProof(clientKey, { method: 'GET', url: URL_ })
    await refused(
      verifierFor().verify({ ...req, authorization: `DPoP ${boundToken}`, dpop: noAth }),
      'invalid_dpop_proof',
    )
  })

  it('refuses a proof for another method or another URL', async () => {
    await refused(
      verifierFor().verify(await dpopRequest(boundToken, { method: 'POST' })),
      'invalid_dpop_proof',
    )
    await refused(
      verifierFor().verify(await dpopRequest(boundToken, { url: 'https://api.example.com/other' })),
      'invalid_dpop_proof',
    )
    await refused(
      verifierFor().verify(await dpopRequest(boundToken, { url: 'https://evil.example.com/deploy' })),
      'invalid_dpop_proof',
    )
  })

  it('refuses a replayed proof', async () => {
    const verifier = verifierFor()
    const req = await dpopRequest()
    await verifier.verify(req)
    expect((await refused(verifier.verify(req), 'invalid_dpop_proof')).message).toMatch(/already been used/)
  })

  it('refuses an old proof, a private key in the proof and a malformed proof', async () => {
    const base = await dpopRequest()
    const ath = accessTokenHash(boundToken)
    const at = { htm: 'GET', htu: URL_, ath }
    const old = makeProof(client, { payload: { ...at, iat: Math.floor(Date.now() / 1000) - 120 } })
    expect(
      (await refused(verifierFor().verify({ ...base, dpop: old }), 'invalid_dpop_proof')).message,
    ).toMatch(/iat/)
    const leaky = makeProof(client, {
      header: { jwk: client.privateJwk },
      payload: { ...at, iat: Math.floor(Date.now() / 1000) },
    })
    expect(
      (await refused(verifierFor().verify({ ...base, dpop: leaky }), 'invalid_dpop_proof')).message,
    ).toMatch(/public key/)
    await refused(verifierFor().verify({ ...base, dpop: `${base.dpop}, ${base.dpop}` }), 'invalid_dpop_proof')
  })

  it('checks the token before the proof: a forged bound token is invalid_token whatever the proof', async () => {
    const forged = await signAccessToken(
      issuer.url,
      { ...issuerKey('x'), kid: 'key-a' },
      { claims: { cnf: { jkt: await jktOf(client.publicJwk) } } },
    )
    await refused(verifierFor().verify(await dpopRequest(forged)), 'invalid_token')
  })
})

describe('verify: what a JavaScript caller may pass', () => {
  it('refuses a repeated Authorization or DPoP header passed as a list', async () => {
    const req = await dpopRequest()
    const asList = {
      ...req,
      authorization: [req.authorization, req.authorization],
    } as unknown as VerifyRequest
    await refusedAny(verifierFor().verify(asList), 'invalid_token')
    const proofs = { ...req, dpop: [req.dpop, req.dpop] } as unknown as VerifyRequest
    await refusedAny(verifierFor().verify(proofs), 'invalid_dpop_proof')
  })
})

async function refusedAny(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(TokenVerificationError)
  expect((err as TokenVerificationError).code).toBe(code)
}

import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { goodClaims, type Harness, JWT_TYPE, startHarness, TOKEN_EXCHANGE } from './harness.js'

describe('interop with independent clients', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  async function discover() {
    const issuer = new URL(h.url)
    const res = await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true })
    return oauth.processDiscoveryResponse(issuer, res)
  }

  it('oauth4webapi discovers the broker and performs the token exchange', async () => {
    const as = await discover()
    expect(as.token_endpoint).toBe(`${h.url}/token`)
    const client: oauth.Client = { client_id: 'ci' }
    const params = new URLSearchParams({
      subject_token: await h.issuer.sign(goodClaims(h)),
      subject_token_type: JWT_TYPE,
      audience: 'https://api.example.com',
      scope: 'deploy:write',
    })
    const res = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), TOKEN_EXCHANGE, params, {
      [oauth.allowInsecureRequests]: true,
    })
    const result = await oauth.processGenericTokenEndpointResponse(as, client, res)
    expect(result.token_type).toBe('bearer')
    expect(result.scope).toBe('deploy:write')

    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
    const { payload, protectedHeader } = await jwtVerify(result.access_token, jwks, {
      issuer: h.url,
      audience: 'https://api.example.com',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    })
    expect(protectedHeader.kid).toBeTruthy()
    expect(payload).toMatchObject({
      sub: 'repo:acme/app:ref:refs/heads/main',
      client_id: 'deploy-app',
      idp: 'ci',
      scope: 'deploy:write',
    })
    expect(payload.exp! - payload.iat!).toBe(600)
    expect(payload.nbf).toBe(payload.iat)
    expect(typeof payload.jti).toBe('string')
  })

  it('oauth4webapi surfaces a denial as an OAuth error with the RFC code', async () => {
    const as = await discover()
    const client: oauth.Client = { client_id: 'ci' }
    const params = new URLSearchParams({
      subject_token: await h.issuer.sign(goodClaims(h, { sub: 'repo:acme/other:ref:refs/heads/main' })),
      subject_token_type: JWT_TYPE,
      audience: 'https://api.example.com',
    })
    const res = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), TOKEN_EXCHANGE, params, {
      [oauth.allowInsecureRequests]: true,
    })
    await expect(oauth.processGenericTokenEndpointResponse(as, client, res)).rejects.toMatchObject({
      error: 'invalid_target',
    })
  })

  it('a minted token does not verify as another audience or without typ at+jwt semantics', async () => {
    const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    const { access_token } = (await res.json()) as { access_token: string }
    const jwks = createRemoteJWKSet(new URL(`${h.url}/.well-known/jwks.json`))
    await expect(jwtVerify(access_token, jwks, { audience: 'https://other.example.com' })).rejects.toThrow()
    await expect(jwtVerify(access_token, jwks, { typ: 'JWT' })).rejects.toThrow()
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenVerifier, type TokenVerificationError } from '../../verify/index.js'
import { goodClaims, type Harness, JWT_TYPE, startHarness, TOKEN_EXCHANGE } from './harness.js'

// An independent RFC 9449 client (oauth4webapi) against the broker and against an API that uses
// the verifier library: proofs, binding and ath must agree with someone else's reading of the RFC.
describe('DPoP interop with oauth4webapi', () => {
  let h: Harness
  let api: Server
  let apiUrl: string
  beforeAll(async () => {
    h = await startHarness()
    const verifier = createTokenVerifier({
      issuer: h.url,
      audience: 'https://api.example.com',
      dpop: 'required',
    })
    api = createServer((req, res) => {
      verifier
        .verify({
          authorization: req.headers.authorization,
          dpop: req.headers.dpop as string | undefined,
          method: req.method ?? '',
          url: `http://${req.headers.host}${req.url}`,
        })
        .then(
          (claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims)),
          (err: unknown) => {
            const e = err as TokenVerificationError
            res.writeHead(e.status ?? 500, { 'www-authenticate': e.wwwAuthenticate ?? '' }).end(e.code)
          },
        )
    })
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/deploy?env=prod`
  })
  afterAll(async () => {
    await new Promise<void>((r) => api.close(() => r()))
    await h.close()
  })

  const insecure = { [oauth.allowInsecureRequests]: true }

  async function boundToken(dpop: oauth.DPoPHandle) {
    const issuer = new URL(h.url)
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
    const client: oauth.Client = { client_id: 'ci' }
    const params = new URLSearchParams({
      subject_token: await h.issuer.sign(goodClaims(h)),
      subject_token_type: JWT_TYPE,
      audience: 'https://api.example.com',
    })
    const res = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), TOKEN_EXCHANGE, params, {
      ...insecure,
      DPoP: dpop,
    })
    return oauth.processGenericTokenEndpointResponse(as, client, res)
  }

  it('gets a DPoP token from the broker and calls the API with oauth4webapi proofs', async () => {
    const dpop = oauth.DPoP({}, await oauth.generateKeyPair('ES256'))
    const token = await boundToken(dpop)
    expect(token.token_type).toBe('dpop')
    const res = await oauth.protectedResourceRequest(
      token.access_token,
      'GET',
      new URL(apiUrl),
      undefined,
      undefined,
      {
        ...insecure,
        DPoP: dpop,
      },
    )
    expect(res.status).toBe(200)
    expect(((await res.json()) as { client_id: string }).client_id).toBe('deploy-app')
  })

  /** oauth4webapi parses the challenge itself: our WWW-Authenticate must read the same to it. */
  async function challengeOf(p: Promise<Response>): Promise<oauth.WWWAuthenticateChallenge | undefined> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    expect((err as oauth.WWWAuthenticateChallengeError).status).toBe(401)
    return (err as oauth.WWWAuthenticateChallengeError).cause[0]
  }

  it('refuses at the API the same token with another client key’s proofs, and as a bearer token', async () => {
    const token = await boundToken(oauth.DPoP({}, await oauth.generateKeyPair('ES256')))
    const thief = oauth.DPoP({}, await oauth.generateKeyPair('ES256'))
    const stolen = await challengeOf(
      oauth.protectedResourceRequest(token.access_token, 'GET', new URL(apiUrl), undefined, undefined, {
        ...insecure,
        DPoP: thief,
      }),
    )
    expect(stolen).toMatchObject({
      scheme: 'dpop',
      parameters: { error: 'invalid_dpop_proof', algs: 'ES256 RS256' },
    })
    const bearer = await challengeOf(
      oauth.protectedResourceRequest(
        token.access_token,
        'GET',
        new URL(apiUrl),
        undefined,
        undefined,
        insecure,
      ),
    )
    expect(bearer).toMatchObject({ scheme: 'dpop', parameters: { error: 'invalid_token' } })
  })
})

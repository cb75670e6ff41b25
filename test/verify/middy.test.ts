import middy from '@middy/core'
import type { JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDpopProof } from '../../lib/client/dpop.js'
import { createTokenVerifier } from '../../verify/index.js'
import { type HttpEventLike, type TokenContext, tokenVerifierMiddleware } from '../../verify/middy.js'
import { proofKey } from '../dpop/proof-fixture.js'
import { API, type FakeIssuer, issuerKey, jktOf, signAccessToken, startFakeIssuer } from './issuer-fixture.js'

const signing = issuerKey('k1')
let issuer: FakeIssuer
let calls = 0

beforeAll(async () => {
  issuer = await startFakeIssuer([signing])
})
afterAll(() => issuer.close())

type Result = { statusCode: number; body: string; headers?: Record<string, string> }

function handlerFor(o: { scopes?: string[]; url?: (e: HttpEventLike) => string } = {}) {
  const verifier = createTokenVerifier({ issuer: issuer.url, audience: API, scopes: o.scopes })
  return middy<HttpEventLike, Result, Error, TokenContext>()
    .use(tokenVerifierMiddleware(verifier, { url: o.url }))
    .handler(async (_event, context) => {
      calls++
      return { statusCode: 200, body: String(context.tokenClaims?.sub) }
    })
}

const httpApiEvent = (headers: Record<string, string>, method = 'GET'): HttpEventLike => ({
  headers: { host: 'api.example.com', ...headers },
  rawPath: '/deploy',
  requestContext: { domainName: 'api.example.com', http: { method } },
})
const context = () => ({}) as TokenContext & Parameters<ReturnType<typeof handlerFor>>[1]

describe('tokenVerifierMiddleware', () => {
  it('runs the handler with the verified claims on context.tokenClaims', async () => {
    const token = await signAccessToken(issuer.url, signing)
    const res = await handlerFor()(httpApiEvent({ authorization: `Bearer ${token}` }), context())
    expect(res).toEqual({ statusCode: 200, body: 'repo:acme/app:ref:refs/heads/main' })
  })

  it('reads REST API (v1) events, whose header names keep their case', async () => {
    const token = await signAccessToken(issuer.url, signing)
    const event: HttpEventLike = {
      headers: { Authorization: `Bearer ${token}`, Host: 'api.example.com' },
      path: '/deploy',
      httpMethod: 'GET',
    }
    expect((await handlerFor()(event, context())).statusCode).toBe(200)
  })

  it('checks a DPoP proof against https://<Host><path>, or the url option', async () => {
    const client = proofKey('ES256')
    const token = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    const proof = (url: string) =>
      createDpopProof(client.privateJwk as JWK, { method: 'GET', url, accessToken: token })
    const ok = await handlerFor()(
      httpApiEvent({ authorization: `DPoP ${token}`, dpop: await proof('https://api.example.com/deploy') }),
      context(),
    )
    expect(ok.statusCode).toBe(200)
    const viaOption = await handlerFor({ url: () => 'https://gateway.example.com/v1/deploy' })(
      httpApiEvent({
        authorization: `DPoP ${token}`,
        dpop: await proof('https://gateway.example.com/v1/deploy'),
      }),
      context(),
    )
    expect(viaOption.statusCode).toBe(200)
  })

  it('answers 401 with WWW-Authenticate and a JSON error, without running the handler', async () => {
    const before = calls
    const res = await handlerFor()(httpApiEvent({}), context())
    expect(res.statusCode).toBe(401)
    expect(res.headers).toMatchObject({
      'WWW-Authenticate': 'Bearer, DPoP algs="ES256 RS256"',
      'content-type': 'application/json',
      'cache-control': 'no-store',
    })
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_token',
      error_description: 'an access token is required',
    })
    expect(calls).toBe(before)
  })

  it('answers 403 insufficient_scope and 401 for a DPoP proof for another URL', async () => {
    const token = await signAccessToken(issuer.url, signing, { claims: { scope: 'deploy:read' } })
    const res = await handlerFor({ scopes: ['deploy:write'] })(
      httpApiEvent({ authorization: `Bearer ${token}` }),
      context(),
    )
    expect(res.statusCode).toBe(403)
    const client = proofKey('ES256')
    const bound = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    const proof = await createDpopProof(client.privateJwk as JWK, {
      method: 'GET',
      url: 'https://evil.example.com/deploy',
      accessToken: bound,
    })
    const wrong = await handlerFor()(httpApiEvent({ authorization: `DPoP ${bound}`, dpop: proof }), context())
    expect(wrong.statusCode).toBe(401)
    expect(JSON.parse(wrong.body).error).toBe('invalid_dpop_proof')
  })

  it('refuses a proof for another path smuggled through a Host header holding a path, query or fragment', async () => {
    const client = proofKey('ES256')
    const bound = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    const before = calls
    for (const host of [
      'api.example.com/deploy#',
      'api.example.com/deploy?',
      'api.example.com/deploy/..',
      'api.example.com\\deploy#',
    ]) {
      const proof = await createDpopProof(client.privateJwk as JWK, {
        method: 'GET',
        url: 'https://api.example.com/deploy',
        accessToken: bound,
      })
      const event = {
        ...httpApiEvent({ authorization: `DPoP ${bound}`, dpop: proof, host }),
        rawPath: '/admin',
      }
      const res = await handlerFor()(event, context())
      expect(res.statusCode).toBe(401)
      expect(JSON.parse(res.body).error).toBe('invalid_dpop_proof')
    }
    expect(calls).toBe(before)
  })

  it('refuses a proof for another path when a REST path holds a literal query or fragment delimiter', async () => {
    const client = proofKey('ES256')
    const bound = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    for (const path of ['/deploy?/admin', '/deploy#/admin']) {
      const proof = await createDpopProof(client.privateJwk as JWK, {
        method: 'GET',
        url: 'https://api.example.com/deploy',
        accessToken: bound,
      })
      // A REST API (v1) event: its path arrives decoded, so %3F and %23 reach the handler as ? and #.
      const event: HttpEventLike = {
        headers: { Authorization: `DPoP ${bound}`, DPoP: proof, Host: 'api.example.com' },
        path,
        httpMethod: 'GET',
      }
      const res = await handlerFor()(event, context())
      expect(res.statusCode).toBe(401)
    }
  })

  it('refuses a proof for /deploy on a request path that only normalises to /deploy', async () => {
    const client = proofKey('ES256')
    const bound = await signAccessToken(issuer.url, signing, {
      claims: { cnf: { jkt: await jktOf(client.publicJwk) } },
    })
    const before = calls
    for (const rawPath of ['/admin/../deploy', '/admin/%2e%2e/deploy', '/admin\\..\\deploy']) {
      const proof = await createDpopProof(client.privateJwk as JWK, {
        method: 'GET',
        url: 'https://api.example.com/deploy',
        accessToken: bound,
      })
      const event = { ...httpApiEvent({ authorization: `DPoP ${bound}`, dpop: proof }), rawPath }
      const res = await handlerFor()(event, context())
      expect(res.statusCode).toBe(401)
      expect(JSON.parse(res.body).error).toBe('invalid_dpop_proof')
    }
    expect(calls).toBe(before)
  })

  it('answers 503 with Retry-After while the issuer is unreachable', async () => {
    issuer.status = 502
    try {
      const token = await signAccessToken(issuer.url, signing)
      const res = await handlerFor()(httpApiEvent({ authorization: `Bearer ${token}` }), context())
      expect(res.statusCode).toBe(503)
      expect(res.headers?.['Retry-After']).toBe('5')
    } finally {
      issuer.status = 200
    }
  })
})

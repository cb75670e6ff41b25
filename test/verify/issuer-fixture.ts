import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, SignJWT } from 'jose'

/** A signing key as the fake issuer publishes it. */
export interface IssuerKey {
  readonly kid: string
  readonly alg: 'ES256' | 'RS256'
  readonly privateKey: KeyObject
  readonly publicJwk: Record<string, unknown>
}

export function issuerKey(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): IssuerKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, alg, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } }
}

/**
 * A loopback stand-in for a Tessera issuer: RFC 8414 metadata and a JWKS whose keys a test can
 * swap (rotation) and whose answers it can break; counts the requests of each.
 */
export interface FakeIssuer {
  readonly url: string
  /** Keys currently published. */
  keys: IssuerKey[]
  /** Overrides of the metadata document (e.g. another issuer), or a raw body. */
  metadata: Record<string, unknown> | string | undefined
  /** HTTP status for the metadata and JWKS answers; default 200. */
  status: number
  readonly hits: { metadata: number; jwks: number }
  close(): Promise<void>
}

export async function startFakeIssuer(keys: IssuerKey[]): Promise<FakeIssuer> {
  const state = { keys, metadata: undefined as FakeIssuer['metadata'], status: 200 }
  const hits = { metadata: 0, jwks: 0 }
  let url = ''
  const server: Server = createServer((req, res) => {
    const send = (body: unknown) => {
      res.writeHead(state.status, { 'content-type': 'application/json' })
      res.end(typeof body === 'string' ? body : JSON.stringify(body))
    }
    if (req.url === '/.well-known/oauth-authorization-server') {
      hits.metadata++
      const m = state.metadata
      send(typeof m === 'string' ? m : { issuer: url, jwks_uri: `${url}/jwks`, ...m })
    } else if (req.url === '/jwks') {
      hits.jwks++
      send({ keys: state.keys.map((k) => k.publicJwk) })
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    get keys() {
      return state.keys
    },
    set keys(k) {
      state.keys = k
    },
    get metadata() {
      return state.metadata
    },
    set metadata(m) {
      state.metadata = m
    },
    get status() {
      return state.status
    },
    set status(s) {
      state.status = s
    },
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

export const API = 'https://api.example.com'

/** Signs an access token as Tessera would (typ at+jwt), with claims and header overridable. */
export async function signAccessToken(
  issuer: string,
  key: IssuerKey,
  o: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const claims = Object.fromEntries(
    Object.entries({
      iss: issuer,
      sub: 'repo:acme/app:ref:refs/heads/main',
      aud: API,
      exp: now + 300,
      iat: now,
      nbf: now,
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      client_id: 'deploy-app',
      idp: 'ci',
      scope: 'deploy:read deploy:write',
      ...o.claims,
    }).filter(([, v]) => v !== undefined),
  )
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...o.header })
    .sign(key.privateKey)
}

export function jktOf(jwk: Record<string, unknown>): Promise<string> {
  return calculateJwkThumbprint(jwk as { kty: string })
}

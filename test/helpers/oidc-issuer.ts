import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWK } from 'jose'

/** Faults the loopback issuer can simulate (until set back to 'none'). */
export type IssuerFault = 'none' | 'error' | 'hang' | 'garbage' | 'huge'

export interface TestIssuer {
  readonly issuer: string
  readonly jwksUri: string
  /** Number of HTTP requests served per path ('/.well-known/openid-configuration', '/jwks', ...); total without a path. */
  hits(path?: string): number
  /** Signs a JWT with the current key (kid set); default claims iss/iat/exp(+5m)/jti merged with `claims`; `header` overrides/extends the protected header. A value of `undefined` removes an entry. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  /** Signs arbitrary raw payload text (for duplicate-key / non-JSON tests), same key. */
  signRaw(payloadJson: string, header?: Record<string, unknown>): Promise<string>
  readonly privateKey: KeyObject
  readonly publicJwk: JWK
  readonly kid: string
  readonly alg: 'RS256' | 'ES256'
  /** Rotates to a fresh key (new kid); old key no longer published unless keepOld. */
  rotate(opts?: { keepOld?: boolean }): Promise<void>
  /** Makes the server fail (HTTP 500 / hang / invalid JSON / huge body) until reset. */
  setFault(fault: IssuerFault): void
  /** Test extra: replaces the served JWKS document (any JSON value) until called with undefined. */
  setJwks(doc?: unknown): void
  /** Test extra: replaces the served discovery document (any JSON value) until called with undefined. */
  setDiscovery(doc?: unknown): void
  close(): Promise<void>
}

const b64u = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

// RSA generation costs ~100 ms; tests reuse a small ring of 2048-bit keys. Any RSA_POOL_SIZE
// consecutive calls still return pairwise distinct keys.
const RSA_POOL_SIZE = 6
const rsaPool: { privateKey: KeyObject; publicKey: KeyObject }[] = []
let rsaNext = 0

function rsaPair(modulusLength: number): { privateKey: KeyObject; publicKey: KeyObject } {
  if (modulusLength !== 2048) return generateKeyPairSync('rsa', { modulusLength })
  const index = rsaNext++ % RSA_POOL_SIZE
  rsaPool[index] ??= generateKeyPairSync('rsa', { modulusLength })
  return rsaPool[index]
}

/** A signing key pair for `alg` (RSA or P-256) with a fresh random kid; see RSA_POOL_SIZE. */
export function generateTestKey(alg: 'RS256' | 'ES256' = 'RS256', modulusLength = 2048) {
  const { privateKey, publicKey } =
    alg === 'RS256' ? rsaPair(modulusLength) : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const kid = randomUUID()
  const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' }
  return { privateKey, publicKey, publicJwk, kid, alg }
}

/** Signs `header.payload` with node:crypto (RS256 or ES256 in JOSE r||s form), whatever header.alg claims. */
export function signCompact(
  key: KeyObject,
  alg: 'RS256' | 'ES256',
  header: Record<string, unknown>,
  payloadText: string,
): string {
  return signCompactText(key, alg, JSON.stringify(header), payloadText)
}

/** Like signCompact, with the header given as raw text (duplicate-member tests). */
export function signCompactText(
  key: KeyObject,
  alg: 'RS256' | 'ES256',
  headerText: string,
  payloadText: string,
): string {
  const input = `${b64u(headerText)}.${b64u(payloadText)}`
  const sig =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${b64u(sig)}`
}

/** base64url SHA-256, as VerifiedSubject.tokenHash. */
export const sha256b64u = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** Starts a loopback OIDC issuer serving discovery and JWKS on 127.0.0.1 (port 0). */
export async function startTestIssuer(
  opts: { alg?: 'RS256' | 'ES256'; path?: string } = {},
): Promise<TestIssuer> {
  const alg = opts.alg ?? 'RS256'
  const prefix = (opts.path ?? '').replace(/\/+$/, '')
  let current = generateTestKey(alg)
  let published: JWK[] = [current.publicJwk]
  let fault: IssuerFault = 'none'
  let jwksOverride: unknown
  let discoveryOverride: unknown
  const counts = new Map<string, number>()
  let total = 0

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const full = (req.url ?? '/').split('?')[0] ?? '/'
    const path = prefix && full.startsWith(prefix) ? full.slice(prefix.length) || '/' : full
    counts.set(path, (counts.get(path) ?? 0) + 1)
    total++
    if (fault === 'hang') return // never answers; close() drops the socket
    if (fault === 'error') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('boom')
    if (fault === 'garbage')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [')
    if (fault === 'huge') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(`{"keys":[],"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`)
    }
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (path === '/.well-known/openid-configuration') {
      return json(discoveryOverride ?? { issuer: self.issuer, jwks_uri: self.jwksUri })
    }
    if (path === '/jwks') return json(jwksOverride ?? { keys: published })
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}${prefix}`

  const header = (extra?: Record<string, unknown>) => ({ alg, typ: 'JWT', kid: current.kid, ...extra })
  const self: TestIssuer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    hits: (path) => (path === undefined ? total : (counts.get(path) ?? 0)),
    async sign(claims, extra) {
      const now = Math.floor(Date.now() / 1000)
      const payload = { iss: issuer, iat: now, exp: now + 300, jti: randomUUID(), ...claims }
      return signCompact(current.privateKey, alg, header(extra), JSON.stringify(payload))
    },
    async signRaw(payloadJson, extra) {
      return signCompact(current.privateKey, alg, header(extra), payloadJson)
    },
    get privateKey() {
      return current.privateKey
    },
    get publicJwk() {
      return current.publicJwk
    },
    get kid() {
      return current.kid
    },
    alg,
    async rotate(rotateOpts) {
      current = generateTestKey(alg)
      published = rotateOpts?.keepOld ? [...published, current.publicJwk] : [current.publicJwk]
    },
    setFault(f) {
      fault = f
    },
    setJwks(doc) {
      jwksOverride = doc
    },
    setDiscovery(doc) {
      discoveryOverride = doc
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return self
}

/** A random token-ish string (for tests that need an opaque value). */
export const randomToken = (): string => b64u(randomBytes(16))

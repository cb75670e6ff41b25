import { createPublicKey, type JsonWebKey, randomBytes } from 'node:crypto'
import { importJWK, type JWK, SignJWT } from 'jose'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { loadOrCreateKeyFile } from '../keys/local-signer.js'
import type { LocalExtra } from './http-server.js'

/** Where the local dev issuer keeps its private key (generated on first use, mode 0600). */
export const DEV_ISSUER_KEY_FILE = '.tessera/dev-issuer-key.json'
export const DEV_ISSUER_PATH = '/dev'

/** The dev issuer's URL under a broker base URL. */
export function devIssuerUrl(brokerUrl: string): string {
  return `${brokerUrl.replace(/\/+$/, '')}${DEV_ISSUER_PATH}`
}

/**
 * The public half of a private JWK, derived by the crypto library rather than by deleting private
 * members: an RSA key file also holds `p`, `q`, `dp`, `dq`, `qi` (and possibly `oth`), and any
 * member nobody thought of would otherwise be published too.
 */
export function publicJwkOf(jwk: JWK): JWK {
  const pub = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' })
  return {
    ...(pub as JWK),
    ...(jwk.kid === undefined ? {} : { kid: jwk.kid }),
    ...(jwk.alg === undefined ? {} : { alg: jwk.alg }),
    use: 'sig',
  }
}

/**
 * Local-only OIDC issuer for trying Tessera without a CI system: serves its discovery document and
 * JWKS from the broker's own process. Never part of a deployment.
 */
export async function devIssuerRoutes(brokerUrl: string, keyFile = DEV_ISSUER_KEY_FILE): Promise<LocalExtra> {
  const issuer = devIssuerUrl(brokerUrl)
  const jwks = { keys: [publicJwkOf(await loadOrCreateKeyFile(keyFile, 'ES256'))] }
  const discovery = {
    issuer,
    jwks_uri: `${issuer}/jwks.json`,
    id_token_signing_alg_values_supported: ['ES256'],
  }
  return async (req: HttpRequest): Promise<HttpResponse | undefined> => {
    if (req.method !== 'GET') return undefined
    if (req.path === `${DEV_ISSUER_PATH}/.well-known/openid-configuration`)
      return jsonResponse(200, discovery, req.requestId)
    if (req.path === `${DEV_ISSUER_PATH}/jwks.json`) return jsonResponse(200, jwks, req.requestId)
    return undefined
  }
}

/** Signs a test assertion as the dev issuer. */
export async function signDevToken(opts: {
  issuer: string
  sub: string
  audience: string
  claims: Record<string, unknown>
  ttlSeconds: number
  keyFile?: string
}): Promise<string> {
  const jwk = await loadOrCreateKeyFile(opts.keyFile ?? DEV_ISSUER_KEY_FILE, 'ES256')
  const key = await importJWK(jwk, 'ES256')
  return new SignJWT({ ...opts.claims })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid as string, typ: 'JWT' })
    .setIssuer(opts.issuer)
    .setSubject(opts.sub)
    .setAudience(opts.audience)
    .setIssuedAt()
    .setExpirationTime(`${opts.ttlSeconds}s`)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key)
}

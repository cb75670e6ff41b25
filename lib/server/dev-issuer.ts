import { createPublicKey, type JsonWebKey, randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { importJWK, type JWK, SignJWT } from 'jose'
import type { Config } from '../config/schema.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { loadOrCreateKeyFile } from '../keys/local-signer.js'
import type { LocalExtra } from './http-server.js'

export const DEV_ISSUER_PATH = '/dev'

/**
 * Where the local dev issuer keeps its private key (generated on first use, mode 0600): one file
 * per user, `$TESSERA_HOME/dev-issuer-key.json` (default `~/.tessera`), so `dev-token` and
 * `serve` agree whatever folder each is started from.
 */
export function devIssuerKeyFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env.TESSERA_HOME?.trim() || join(homedir(), '.tessera')
  return join(home, 'dev-issuer-key.json')
}

/** The dev issuer's URL under a broker base URL; a preset's stand-in lives one segment below. */
export function devIssuerUrl(brokerUrl: string, preset?: string): string {
  return `${brokerUrl.replace(/\/+$/, '')}${DEV_ISSUER_PATH}${preset ? `/${preset}` : ''}`
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
 * JWKS from the broker's own process, for itself (`/dev`) and for each preset it stands in for
 * (`/dev/<preset>`, same key). Never part of a deployment.
 */
export async function devIssuerRoutes(
  brokerUrl: string,
  keyFile = devIssuerKeyFile(),
  presets: readonly string[] = [],
): Promise<LocalExtra> {
  const jwks = { keys: [publicJwkOf(await loadOrCreateKeyFile(keyFile, 'ES256'))] }
  const jwksUri = `${devIssuerUrl(brokerUrl)}/jwks.json`
  const discovery = new Map(
    [undefined, ...presets].map((preset) => [
      `${DEV_ISSUER_PATH}${preset ? `/${preset}` : ''}/.well-known/openid-configuration`,
      {
        issuer: devIssuerUrl(brokerUrl, preset),
        jwks_uri: jwksUri,
        id_token_signing_alg_values_supported: ['ES256'],
      },
    ]),
  )
  return async (req: HttpRequest): Promise<HttpResponse | undefined> => {
    if (req.method !== 'GET') return undefined
    const doc = discovery.get(req.path)
    if (doc) return jsonResponse(200, doc, req.requestId)
    if (req.path === `${DEV_ISSUER_PATH}/jwks.json`) return jsonResponse(200, jwks, req.requestId)
    return undefined
  }
}

/** One preset provider the dev issuer now stands in for. */
export interface DevIssuerStandIn {
  readonly provider: string
  readonly preset: string
  /** The issuer the config names, no longer trusted by this process. */
  readonly replaced: string
  readonly issuer: string
}

/**
 * `serve --dev-issuer`: every preset provider trusts the dev issuer's stand-in for its preset
 * (`<broker>/dev/<preset>`, ES256, the dev JWKS) instead of the real issuer, so a policy written
 * for GitHub Actions can be tried with `dev-token --preset github-actions`. Returns the changed
 * config and what changed, for the start-up warning.
 */
export function trustDevIssuer(
  config: Config,
  brokerUrl: string,
): { config: Config; standIns: DevIssuerStandIn[] } {
  const standIns: DevIssuerStandIn[] = []
  const providers = config.providers.map((p) => {
    if (p.kind !== 'oidc' || p.preset === undefined) return p
    // A provider already pointed at the dev issuer (issuer: <broker>/dev) keeps its setting.
    const dev = devIssuerUrl(brokerUrl)
    if (p.issuer === dev || p.issuer.startsWith(`${dev}/`)) return p
    const issuer = devIssuerUrl(brokerUrl, p.preset)
    standIns.push({ provider: p.name, preset: p.preset, replaced: p.issuer, issuer })
    return {
      ...p,
      issuer,
      issuerAliases: [],
      jwksUri: `${devIssuerUrl(brokerUrl)}/jwks.json`,
      algorithms: ['ES256' as const],
    }
  })
  return { config: { ...config, providers }, standIns }
}

/** The loud start-up notice of a broker that trusts the development issuer. */
export function devIssuerWarning(
  brokerUrl: string,
  standIns: readonly DevIssuerStandIn[],
  keyFile: string,
): string {
  const bar = '!'.repeat(78)
  return [
    bar,
    `WARNING: this broker trusts a DEVELOPMENT issuer at ${devIssuerUrl(brokerUrl)}`,
    `its private key is ${keyFile}; anyone who can read it can mint any identity.`,
    ...standIns.map(
      (s) => `  provider ${s.provider} (preset ${s.preset}) trusts ${s.issuer} instead of ${s.replaced}`,
    ),
    'Local testing only: never start a shared or deployed broker with --dev-issuer.',
    bar,
    '',
  ].join('\n')
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
  const jwk = await loadOrCreateKeyFile(opts.keyFile ?? devIssuerKeyFile(), 'ES256')
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

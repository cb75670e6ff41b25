import { constants, type KeyObject, verify } from 'node:crypto'
import type { OidcProviderConfig } from '../config/providers/oidc.js'
import { InvalidRequest } from '../errors.js'
import { replayExpiresAt } from '../store/replay.js'
import { decodeJwt, issuersOf } from './decode-jwt.js'
import { checkGcpInstance, isGcpInstanceProvider } from './gcp-instance.js'
import { checkJwtClaims } from './jwt-claims.js'
import { type JwksSource, RemoteJwksCache, type RemoteJwksOptions } from './remote-jwks.js'
import { tokenHash } from './token-hash.js'
import { TokenTypes } from './token-types.js'
import type { AssertionInput, AssertionVerifier, VerifiedSubject } from './types.js'

export interface OidcDeps {
  fetch: typeof globalThis.fetch
  /** Epoch ms. */
  now: () => number
  /** Tessera's own issuer: tokens from it are refused as subjects. */
  brokerIssuer: string
  /** Metrics/tests hook, called once per network fetch actually started (JWKS or discovery). */
  onJwksFetch?: (issuer: string, document: 'discovery' | 'jwks') => void
}

/** Optional tuning, mainly for tests (a short fetch timeout). */
export interface OidcVerifierOptions {
  readonly jwks?: Partial<RemoteJwksOptions>
}

const SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 }
const HASH_OF_BITS: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' }

interface Provider {
  readonly config: OidcProviderConfig
  readonly source: JwksSource
  readonly audiences: readonly string[]
  readonly gcp: boolean
}

/** Header rules that need no provider: no unsecured/MAC algs, no extensions, no access tokens. */
function checkHeader(header: Record<string, unknown>): { alg: string; kid: string | undefined } {
  const { alg, kid, typ } = header
  if (typeof alg !== 'string' || alg.length === 0) throw new InvalidRequest('subject_token header has no alg')
  if (alg.toLowerCase() === 'none' || /^hs/i.test(alg)) {
    throw new InvalidRequest(
      'subject_token alg is not allowed (unsigned and symmetric algorithms are refused)',
    )
  }
  if ('crit' in header || 'b64' in header) {
    throw new InvalidRequest('subject_token uses JWS extensions (crit/b64), which are not supported')
  }
  if (typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ)) {
    throw new InvalidRequest(
      'subject_token is an access token (typ at+jwt); exchange the original identity token',
    )
  }
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0)) {
    throw new InvalidRequest('subject_token kid must be a non-empty string')
  }
  // jku, x5u, jwk and x5c are deliberately never read: keys come only from the provider's config.
  return { alg, kid }
}

/** Verifies a JWS signature with node:crypto, mapping each JOSE alg explicitly. */
function signatureValid(alg: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const family = alg.slice(0, 2)
  const hash = HASH_OF_BITS[alg.slice(2)]
  try {
    if (alg === 'EdDSA') return verify(null, data, key, signature)
    if (!hash) return false
    if (family === 'RS') return verify(hash, data, key, signature)
    if (family === 'PS') {
      const saltLength = Number(alg.slice(2)) / 8
      return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature)
    }
    if (family === 'ES') {
      const size = SIGNATURE_BYTES[alg]
      if (signature.length !== size) return false
      // r = 0 or s = 0 is never valid ("psychic signatures"); refuse before asking the library.
      const half = size / 2
      if (
        signature.subarray(0, half).every((b) => b === 0) ||
        signature.subarray(half).every((b) => b === 0)
      ) {
        return false
      }
      return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature)
    }
  } catch {
    return false
  }
  return false
}

function indexProviders(providers: readonly OidcProviderConfig[], deps: OidcDeps): Map<string, Provider> {
  const byIssuer = new Map<string, Provider>()
  for (const config of providers) {
    const provider: Provider = {
      config,
      source: { issuer: config.issuer, jwksUri: config.jwksUri, ttlSeconds: config.jwksCacheTtl },
      audiences: config.audiences ?? [deps.brokerIssuer],
      gcp: isGcpInstanceProvider(config),
    }
    for (const iss of issuersOf(config)) {
      // Two providers on one issuer would make the choice depend on order; config must be unambiguous.
      if (byIssuer.has(iss)) throw new Error(`oidc providers: issuer ${iss} is configured more than once`)
      byIssuer.set(iss, provider)
    }
  }
  return byIssuer
}

/**
 * The `oidc` verifier: picks the provider by exact `iss` before any network I/O, then verifies the
 * signature with a key from that provider's JWKS only, then the claims (and preset post-checks).
 */
export function createOidcVerifier(
  providers: readonly OidcProviderConfig[],
  deps: OidcDeps,
  options: OidcVerifierOptions = {},
): AssertionVerifier {
  const byIssuer = indexProviders(providers, deps)
  const jwks = new RemoteJwksCache(
    { fetch: deps.fetch, now: deps.now, onFetch: deps.onJwksFetch },
    options.jwks,
  )

  async function verifyToken(input: AssertionInput): Promise<VerifiedSubject> {
    const token = input.subjectToken
    const { header, payload, headerPart, payloadPart, signaturePart } = decodeJwt(token)
    const { alg, kid } = checkHeader(header)

    const iss = payload.iss
    if (typeof iss !== 'string' || iss.length === 0)
      throw new InvalidRequest('subject_token has no iss claim')
    if (iss === deps.brokerIssuer) {
      throw new InvalidRequest(
        'subject_token was issued by this broker; its tokens cannot be exchanged again',
      )
    }
    const provider = byIssuer.get(iss)
    if (!provider) throw new InvalidRequest('subject_token issuer is not trusted')
    const config = provider.config
    if (!(config.algorithms as readonly string[]).includes(alg)) {
      throw new InvalidRequest('subject_token alg is not accepted for this issuer')
    }

    const signature = Buffer.from(signaturePart, 'base64url')
    const key = await jwks.resolveKey(provider.source, alg, kid)
    if (!signatureValid(alg, key.key, Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), signature)) {
      throw new InvalidRequest('subject_token signature is invalid')
    }

    const checked = checkJwtClaims(payload, {
      now: input.now,
      clockTolerance: config.clockTolerance,
      audiences: provider.audiences,
      maxTokenAge: config.maxTokenAge,
      requireJti: config.replay === 'once' && !provider.gcp,
    })
    const hash = tokenHash(token)
    const claims = provider.gcp ? checkGcpInstance(config, alg, payload) : payload
    // Accepted while floor(now / 1000) < exp + clockTolerance (checkJwtClaims).
    const replayUntil = replayExpiresAt((checked.exp + config.clockTolerance) * 1000)
    let replay: VerifiedSubject['replay']
    // GCP tokens carry no jti: the signed content (not the signature's spelling) is the single-use key.
    if (config.replay === 'once' && provider.gcp)
      replay = {
        key: `gcp:${config.name}:${tokenHash(`${headerPart}.${payloadPart}`)}`,
        expiresAt: replayUntil,
      }
    else if (config.replay === 'once')
      replay = { key: `oidc:${config.name}:${checked.jti}`, expiresAt: replayUntil }

    return {
      provider: config.name,
      kind: 'oidc',
      issuer: iss,
      sub: checked.sub,
      claims,
      tokenHash: hash,
      expiresAt: checked.exp,
      ...(replay ? { replay } : {}),
    }
  }

  return { tokenTypes: [TokenTypes.jwt, TokenTypes.idToken], verify: verifyToken }
}

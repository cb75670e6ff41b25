import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose'
import { FetchFailure, TemporarilyUnavailable } from '../lib/errors.js'
import { fetchBounded, JSON_CONTENT_TYPE } from '../lib/http/bounded-fetch.js'
import { parseJsonStrict } from '../lib/json/strict-json.js'

const TIMEOUT_MS = 5000
const MAX_METADATA_BYTES = 512 * 1024

/** http is accepted only for loopback hosts (local development and tests). */
export function isSecureUrl(url: URL): boolean {
  const host = url.hostname
  return (
    url.protocol === 'https:' ||
    (url.protocol === 'http:' &&
      (host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)))
  )
}

/**
 * The issuer's signing keys: `jwks_uri` comes from its RFC 8414 metadata (fetched once, on first
 * use; retried on the next call after a failure), and the key set is jose's remote JWKS, cached
 * 10 min and refetched on an unknown `kid` at most every 30 s, which is how a key rotation arrives.
 * An unreachable issuer is TemporarilyUnavailable (503), never a verdict on the token.
 */
export function issuerKeys(issuer: string, fetchImpl: typeof globalThis.fetch): JWTVerifyGetKey {
  let keys: Promise<JWTVerifyGetKey> | undefined
  return async (header, token) => {
    if (keys === undefined) {
      const discovery = discoverKeys(issuer, fetchImpl)
      keys = discovery
      // A failed discovery is forgotten so the next request tries again; callers waiting on it fail.
      discovery.catch(() => {
        if (keys === discovery) keys = undefined
      })
    }
    return (await keys)(header, token)
  }
}

async function discoverKeys(issuer: string, fetchImpl: typeof globalThis.fetch): Promise<JWTVerifyGetKey> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/oauth-authorization-server`
  let text: string
  try {
    ;({ text } = await fetchBounded(url, {
      fetch: fetchImpl,
      timeoutMs: TIMEOUT_MS,
      maxBytes: MAX_METADATA_BYTES,
      contentType: JSON_CONTENT_TYPE,
    }))
  } catch (err) {
    if (err instanceof FetchFailure)
      throw new TemporarilyUnavailable('the token issuer metadata is unavailable').withDetail(err.message)
    throw err
  }
  let meta: unknown
  try {
    meta = parseJsonStrict(text)
  } catch {
    throw new TemporarilyUnavailable('the token issuer metadata is not JSON')
  }
  // Unknown members are ignored (RFC 8414 §3.2): only these two are relied on.
  const { issuer: named, jwks_uri: jwksUri } = (
    typeof meta === 'object' && meta !== null ? meta : {}
  ) as Record<string, unknown>
  if (typeof named !== 'string' || named.replace(/\/+$/, '') !== issuer.replace(/\/+$/, ''))
    throw new TemporarilyUnavailable('the token issuer metadata names another issuer')
  let jwks: URL
  try {
    jwks = new URL(String(jwksUri))
  } catch {
    throw new TemporarilyUnavailable('the token issuer metadata has no valid jwks_uri')
  }
  if (typeof jwksUri !== 'string' || !isSecureUrl(jwks))
    throw new TemporarilyUnavailable('the token issuer jwks_uri must use https')
  return createRemoteJWKSet(jwks, { timeoutDuration: TIMEOUT_MS, [customFetch]: fetchImpl })
}

import { TOKEN_EXCHANGE_GRANT } from '../assertion/token-types.js'
import { isLoopbackHost } from '../config/url.js'

/** A failed exchange, as the broker described it. */
export class ExchangeFailed extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(`${error}: ${description}`)
    this.name = 'ExchangeFailed'
  }
}

export interface ExchangeParams {
  readonly subjectToken: string
  readonly subjectTokenType: string
  readonly actorToken?: string | undefined
  readonly actorTokenType?: string | undefined
  readonly audiences?: readonly string[]
  readonly resources?: readonly string[]
  readonly scope?: string | undefined
  readonly requestedTokenType?: string | undefined
  /** Extra form parameters some kinds need (e.g. `nonce`). */
  readonly extra?: Readonly<Record<string, string>> | undefined
}

const TIMEOUT_MS = 10_000

/** Finds the token endpoint from the broker's RFC 8414 metadata, checking the issuer matches `brokerUrl`. */
export async function discoverTokenEndpoint(
  brokerUrl: string,
  fetchImpl = globalThis.fetch,
): Promise<string> {
  const base = brokerUrl.replace(/\/+$/, '')
  const res = await fetchImpl(`${base}/.well-known/oauth-authorization-server`, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
    redirect: 'error',
  })
  if (!res.ok) throw new Error(`${base}: metadata request failed with HTTP ${res.status}`)
  const meta = (await res.json()) as { issuer?: unknown; token_endpoint?: unknown }
  if (meta.issuer !== base) throw new Error(`${base}: metadata names another issuer (${String(meta.issuer)})`)
  if (typeof meta.token_endpoint !== 'string') throw new Error(`${base}: metadata has no token_endpoint`)
  const endpoint = new URL(meta.token_endpoint)
  if (endpoint.origin !== new URL(base).origin)
    throw new Error(`${base}: token_endpoint is on another origin`)
  if (endpoint.protocol !== 'https:' && !isLoopbackHost(endpoint.hostname))
    throw new Error('token_endpoint must use https')
  return endpoint.href
}

/** Performs the RFC 8693 exchange; resolves with the JSON body or rejects with ExchangeFailed. */
export async function requestExchange(
  tokenEndpoint: string,
  p: ExchangeParams,
  fetchImpl = globalThis.fetch,
): Promise<Record<string, unknown>> {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: p.subjectToken,
    subject_token_type: p.subjectTokenType,
  })
  if (p.actorToken && p.actorTokenType) {
    form.set('actor_token', p.actorToken)
    form.set('actor_token_type', p.actorTokenType)
  }
  for (const a of p.audiences ?? []) form.append('audience', a)
  for (const r of p.resources ?? []) form.append('resource', r)
  if (p.scope) form.set('scope', p.scope)
  if (p.requestedTokenType) form.set('requested_token_type', p.requestedTokenType)
  for (const [k, v] of Object.entries(p.extra ?? {})) form.set(k, v)
  const res = await fetchImpl(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
    signal: AbortSignal.timeout(TIMEOUT_MS),
    redirect: 'error',
  })
  let body: Record<string, unknown>
  try {
    body = (await res.json()) as Record<string, unknown>
  } catch {
    throw new ExchangeFailed('invalid_response', `HTTP ${res.status} without a JSON body`, res.status)
  }
  if (!res.ok) {
    throw new ExchangeFailed(
      String(body.error ?? 'unknown_error'),
      String(body.error_description ?? ''),
      res.status,
    )
  }
  return body
}

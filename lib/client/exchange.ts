import { TOKEN_EXCHANGE_GRANT } from '../assertion/token-types.js'
import { ExchangeFailed } from '../errors.js'
import { fetchBroker } from './reach-broker.js'

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
  /** A DPoP proof for POST to the token endpoint (RFC 9449): the token is then bound to its key. */
  readonly dpopProof?: string | undefined
}

const TIMEOUT_MS = 10_000

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
  return postTokenForm(tokenEndpoint, form, fetchImpl, p.dpopProof)
}

/** POSTs a form to the token endpoint (with a DPoP proof when given); the JSON body, or ExchangeFailed. */
export async function postTokenForm(
  tokenEndpoint: string,
  form: URLSearchParams,
  fetchImpl = globalThis.fetch,
  dpopProof?: string | undefined,
): Promise<Record<string, unknown>> {
  const res = await fetchBroker(
    tokenEndpoint,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(dpopProof === undefined ? {} : { dpop: dpopProof }),
      },
      body: form.toString(),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    },
    fetchImpl,
  )
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
      body,
    )
  }
  return body
}

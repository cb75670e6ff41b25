import * as z from 'zod'
import { urlProblem } from '../config/url.js'
import { fetchBroker } from './reach-broker.js'

const TIMEOUT_MS = 10_000
export type EndpointName = 'token_endpoint' | 'revocation_endpoint' | 'introspection_endpoint'

/**
 * Finds an endpoint in the broker's RFC 8414 metadata. The metadata must name `brokerUrl` as its
 * issuer, and the endpoint must be on the same origin (https unless loopback): a credential sent
 * there must never be redirected elsewhere by a tampered metadata document.
 */
export async function discoverEndpoint(
  brokerUrl: string,
  name: EndpointName,
  fetchImpl: typeof globalThis.fetch = globalThis.fetch,
): Promise<string> {
  const base = brokerUrl.replace(/\/+$/, '')
  const res = await fetchBroker(
    `${base}/.well-known/oauth-authorization-server`,
    { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' },
    fetchImpl,
  )
  if (!res.ok) throw new Error(`${base}: metadata request failed with HTTP ${res.status}`)
  const meta = z
    .object({ issuer: z.string(), [name]: z.string() })
    .safeParse(await res.json().catch(() => undefined))
  if (!meta.success) throw new Error(`${base}: metadata has no ${name}`)
  const issuer = String(meta.data.issuer)
  // An issuer may be published with a trailing slash; `base` never has one.
  if (issuer.replace(/\/+$/, '') !== base)
    throw new Error(`${base}: metadata names another issuer (${issuer})`)
  const text = meta.data[name] as string
  const problem = urlProblem(text, name)
  if (problem) throw new Error(`${base}: ${problem}`)
  const endpoint = new URL(text)
  if (endpoint.origin !== new URL(base).origin) throw new Error(`${base}: ${name} is on another origin`)
  return endpoint.href
}

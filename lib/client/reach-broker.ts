/**
 * `fetch` for the CLI's calls to a broker: a failure to connect names the URL and the cause
 * (undici's own message is only `fetch failed`), so the user knows what to start or fix.
 */
export async function fetchBroker(
  url: string,
  init: RequestInit,
  fetchImpl: typeof globalThis.fetch = globalThis.fetch,
): Promise<Response> {
  try {
    return await fetchImpl(url, init)
  } catch (error) {
    throw new Error(`cannot reach ${url}: ${connectionCause(error)}`)
  }
}

/** The innermost useful reason of a failed fetch: `connect ECONNREFUSED 127.0.0.1:9`, a timeout, … */
export function connectionCause(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'no answer in time (is the broker running and reachable?)'
  let reason: unknown = error
  // undici wraps the socket error (sometimes an AggregateError of one per address) in `cause`.
  while (reason instanceof Error && reason.cause instanceof Error) reason = reason.cause
  if (reason instanceof AggregateError && reason.errors[0] instanceof Error) reason = reason.errors[0]
  const code = (reason as { code?: unknown }).code
  const text = reason instanceof Error ? reason.message : String(reason)
  const hint =
    code === 'ECONNREFUSED'
      ? ' (is tessera serve running there?)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? ' (check the host name in --url)'
        : ''
  return `${text || String(code ?? 'connection failed')}${hint}`
}

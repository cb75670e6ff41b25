import { BrokerError } from '../errors.js'
import type { HttpResponse } from './types.js'

/** Headers on every token-bearing or error response (RFC 6749 §5.1). */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const

/** A JSON response with no-store caching and the request id. */
export function jsonResponse(
  status: number,
  body: unknown,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): HttpResponse {
  // A response that sets its own caching (metadata, JWKS) does not also get the no-store pair.
  const caching = 'Cache-Control' in extraHeaders ? {} : NO_STORE
  return {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      ...caching,
      'X-Request-Id': requestId,
      'X-Content-Type-Options': 'nosniff',
      ...extraHeaders,
    },
    body: JSON.stringify(body),
  }
}

/** The one error serializer: RFC 6749 JSON error; never a stack trace; the description ends with the request id. */
export function errorResponse(err: unknown, requestId: string): HttpResponse {
  const e = err instanceof BrokerError ? err : undefined
  const status = e?.status ?? 500
  const code = e?.code ?? 'server_error'
  const description = describable(e?.expose ? e.message : 'internal error')
  const body: Record<string, unknown> = {
    error: code,
    error_description: `${description} (request id: ${requestId})`,
  }
  // Protocol members some errors carry (auth_req_id, interval, …); they never replace the two above.
  if (e?.expose) for (const [k, v] of Object.entries(e.members)) if (!(k in body)) body[k] = v
  return jsonResponse(status, body, requestId, e?.headers ?? {})
}

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E; anything else becomes '?'. */
function describable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?')
}

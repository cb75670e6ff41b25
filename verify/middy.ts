import type middy from '@middy/core'
import { BrokerError } from '../lib/errors.js'
import type { TokenClaims } from './access-token.js'
import type { TokenVerifier } from './create-verifier.js'

/** The parts of an API Gateway event (HTTP API v2 or REST v1) the middleware reads. */
export interface HttpEventLike {
  readonly headers?: Readonly<Record<string, string | undefined>> | null
  readonly rawPath?: string
  readonly path?: string
  readonly httpMethod?: string
  readonly requestContext?: { readonly domainName?: string; readonly http?: { readonly method?: string } }
}

/** The error answer this middleware returns (API Gateway proxy result shape). */
export interface HttpResultLike {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly body: string
}

export interface TokenVerifierMiddlewareOptions<E> {
  /** The URL the client called, for DPoP `htu`; default `https://<Host header><path>`. */
  readonly url?: ((event: E) => string) | undefined
}

/** The Lambda context gains the verified claims. */
export interface TokenContext {
  tokenClaims?: TokenClaims
}

/**
 * A middy middleware that verifies the request's token before the handler runs and puts its
 * claims on `context.tokenClaims`; a refused token is answered here (401/403 with
 * WWW-Authenticate, or 503 when the issuer's keys are unreachable) and the handler never runs.
 */
export function tokenVerifierMiddleware<E extends HttpEventLike, R, C extends TokenContext>(
  verifier: TokenVerifier,
  options: TokenVerifierMiddlewareOptions<E> = {},
): middy.MiddlewareObj<E, R | HttpResultLike, Error, C> {
  return {
    before: async (request) => {
      const { event } = request
      const header = (name: string) => headerOf(event, name)
      try {
        request.context.tokenClaims = await verifier.verify({
          authorization: header('authorization'),
          dpop: header('dpop'),
          method: event.requestContext?.http?.method ?? event.httpMethod ?? '',
          url: options.url ? options.url(event) : defaultUrl(event),
        })
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err
        return {
          statusCode: err.status,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...err.headers },
          body: JSON.stringify({ error: err.code, error_description: err.message }),
        }
      }
      return undefined
    },
  }
}

/** Header names are case-insensitive; REST API events keep the client's spelling. */
function headerOf(event: HttpEventLike, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v
  return undefined
}

/** A host and optional port, nothing more (RFC 3986 reg-name or IP literal). */
const HOST = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/**
 * The client sends the Host header: a value holding `/`, `?`, `#` or `\` would replace the path the
 * proof's `htu` is compared with, so such a host gives no URL (every proof then fails). A literal
 * `?`, `#` or `\` in the path (REST events carry it decoded) stays part of the path.
 */
function defaultUrl(event: HttpEventLike): string {
  const host = headerOf(event, 'host') ?? event.requestContext?.domainName ?? ''
  if (!HOST.test(host)) return ''
  const path = event.rawPath ?? event.path ?? '/'
  const escaped = path.replace(/[?#\\]/g, (c) => encodeURIComponent(c))
  return `https://${host}${escaped.startsWith('/') ? '' : '/'}${escaped}`
}

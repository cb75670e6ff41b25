import { FetchFailure } from '../errors.js'
import { decodeUtf8 } from '../text/decode-utf8.js'
import { readCapped } from './read-capped.js'

export interface BoundedFetchOptions {
  readonly fetch: typeof globalThis.fetch
  /** Whole-operation deadline (connect, headers and body), milliseconds. */
  readonly timeoutMs: number
  /** Largest accepted body, bytes. */
  readonly maxBytes: number
  /** Accept header; default application/json. */
  readonly accept?: string
  /** When set, a present Content-Type must match (a missing one is tolerated). */
  readonly contentType?: RegExp
  /** Statuses that count as success; default [200]. */
  readonly okStatuses?: readonly number[]
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

export interface BoundedResponse {
  readonly status: number
  readonly headers: Headers
  /** Body decoded as UTF-8 (invalid sequences refused). */
  readonly text: string
}

/** JSON media types: application/json and any +json suffix. */
export const JSON_CONTENT_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i

/**
 * Fetches with a deadline, a body size cap enforced while streaming, a status allowlist, an
 * optional Content-Type check, and no redirects (a redirect could leave the vetted https host).
 */
export async function fetchBounded(url: string, opts: BoundedFetchOptions): Promise<BoundedResponse> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs)
  try {
    let response: Response
    try {
      response = await opts.fetch(url, {
        method: opts.method ?? 'GET',
        headers: { accept: opts.accept ?? 'application/json', ...opts.headers },
        ...(opts.body === undefined ? {} : { body: opts.body }),
        redirect: 'manual',
        signal: controller.signal,
      })
    } catch {
      throw controller.signal.aborted
        ? new FetchFailure('timeout', `no answer within ${opts.timeoutMs} ms`)
        : new FetchFailure('network', 'connection failed')
    }
    if (response.status >= 300 && response.status < 400) {
      await discard(response)
      throw new FetchFailure(
        'redirect',
        `answered with a redirect (HTTP ${response.status}); redirects are not followed`,
      )
    }
    if (!(opts.okStatuses ?? [200]).includes(response.status)) {
      await discard(response)
      throw new FetchFailure('status', `answered HTTP ${response.status}`)
    }
    const type = response.headers.get('content-type')
    if (opts.contentType && type !== null && !opts.contentType.test(type)) {
      await discard(response)
      throw new FetchFailure('content-type', 'answered with an unexpected content type')
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN)
    if (declared > opts.maxBytes) {
      await discard(response)
      throw new FetchFailure('too-large', `response exceeds ${opts.maxBytes} bytes`)
    }
    let bytes: Uint8Array | undefined
    try {
      bytes = await readBodyCapped(response, opts.maxBytes)
    } catch {
      throw controller.signal.aborted
        ? new FetchFailure('timeout', `no complete answer within ${opts.timeoutMs} ms`)
        : new FetchFailure('network', 'connection failed while reading the response')
    }
    if (bytes === undefined) {
      controller.abort()
      throw new FetchFailure('too-large', `response exceeds ${opts.maxBytes} bytes`)
    }
    const text = decodeUtf8(bytes)
    if (text === undefined) throw new FetchFailure('content-type', 'response body is not valid UTF-8')
    return { status: response.status, headers: response.headers, text }
  } finally {
    clearTimeout(timer)
  }
}

/** Reads a response body while it streams in, up to `maxBytes` (undefined beyond: see readCapped). */
export function readBodyCapped(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!response.body) return Promise.resolve(new Uint8Array())
  return readCapped(response.body as unknown as AsyncIterable<Uint8Array>, maxBytes)
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel()
  } catch {
    // nothing to do: the body is abandoned either way
  }
}

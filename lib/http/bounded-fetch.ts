import { FetchFailure } from '../errors.js'

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

const utf8 = new TextDecoder('utf-8', { fatal: true })

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
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      throw new FetchFailure('content-type', 'response body is not valid UTF-8')
    }
    return { status: response.status, headers: response.headers, text }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Reads a response body while it streams in; past `maxBytes` it cancels the stream (the rest is
 * never downloaded) and returns undefined. Stream failures are thrown as they are.
 */
export async function readBodyCapped(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!response.body) return new Uint8Array()
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined)
        return undefined
      }
      chunks.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel()
  } catch {
    // nothing to do: the body is abandoned either way
  }
}

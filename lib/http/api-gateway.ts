/** API Gateway HTTP API (payload v2) shapes, shared by the Lambda handlers and the local server. */

import { randomUUID } from 'node:crypto'
import { InvalidRequest } from '../errors.js'
import { decodeUtf8 } from '../text/decode-utf8.js'
import type { HttpRequest, HttpResponse } from './types.js'

/** The fields of an API Gateway HTTP API (payload v2) event that Tessera reads. */
export interface HttpApiEvent {
  readonly rawPath?: string
  readonly rawQueryString?: string
  readonly headers?: Readonly<Record<string, string | undefined>>
  readonly body?: string
  readonly isBase64Encoded?: boolean
  readonly requestContext?: {
    readonly requestId?: string
    readonly http?: { readonly method?: string; readonly path?: string; readonly sourceIp?: string }
  }
}

export interface HttpApiResult {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly body: string
  readonly isBase64Encoded: false
}

const REQUEST_ID = /^[A-Za-z0-9=_-]{1,128}$/

/** The request id API Gateway assigned, or a fresh one. */
export function requestIdOf(event: HttpApiEvent): string {
  const id = event.requestContext?.requestId
  return id && REQUEST_ID.test(id) ? id : randomUUID()
}

/** API Gateway event → transport-neutral request (headers lower-cased, body decoded). */
export function toHttpRequest(event: HttpApiEvent, requestId: string): HttpRequest {
  const headers: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v
  const raw = event.body ?? ''
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    headers,
    body: event.isBase64Encoded ? decodeUtf8Body(Buffer.from(raw, 'base64')) : raw,
    query: event.rawQueryString ?? '',
    sourceIp: event.requestContext?.http?.sourceIp ?? '',
    requestId,
  }
}

/** A request body as strict UTF-8 (Lambda and the local server alike): bad bytes are a 400, never U+FFFD. */
export function decodeUtf8Body(bytes: Uint8Array): string {
  const text = decodeUtf8(bytes)
  if (text === undefined) throw new InvalidRequest('the request body is not valid UTF-8')
  return text
}

export function toHttpApiResult(res: HttpResponse): HttpApiResult {
  return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false }
}

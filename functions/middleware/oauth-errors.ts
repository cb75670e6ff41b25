import { Logger } from '@aws-lambda-powertools/logger'
import type middy from '@middy/core'
import { BrokerError } from '../../lib/errors.js'
import {
  type HttpApiEvent,
  type HttpApiResult,
  requestIdOf,
  toHttpApiResult,
} from '../../lib/http/api-gateway.js'
import { errorResponse } from '../../lib/http/respond.js'

const logger = new Logger({ serviceName: 'tessera' })

/**
 * Gives every event a request id (before), and turns any error into the RFC 6749 JSON error
 * response (onError); unexpected errors are logged with their stack and answered as a bare 500.
 */
export function oauthErrors(): middy.MiddlewareObj<HttpApiEvent, HttpApiResult> {
  return {
    before: async (request) => {
      const requestId = requestIdOf(request.event)
      // API Gateway's own id is kept as it is; only a missing or odd one costs a copy of the event.
      if (requestId === request.event.requestContext?.requestId) return
      request.event = { ...request.event, requestContext: { ...request.event.requestContext, requestId } }
    },
    onError: async (request) => {
      const err = request.error
      const requestId = request.event.requestContext?.requestId ?? requestIdOf(request.event)
      if (!(err instanceof BrokerError) || err.status >= 500) {
        logger.error({ message: 'request failed', request_id: requestId, error: describe(err) })
      }
      request.response = toHttpApiResult(errorResponse(err, requestId))
    },
  }
}

function describe(err: unknown): Record<string, unknown> {
  if (err instanceof BrokerError) return { code: err.code, message: err.message, detail: err.detail }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack }
  return { value: String(err) }
}

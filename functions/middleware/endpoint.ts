import middy from '@middy/core'
import type { Broker } from '../../lib/broker.js'
import {
  type HttpApiEvent,
  type HttpApiResult,
  toHttpApiResult,
  toHttpRequest,
} from '../../lib/http/api-gateway.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { oauthErrors } from './oauth-errors.js'

/** An endpoint core: plain async function of the broker and the request. */
export type EndpointCore = (broker: Broker, req: HttpRequest) => Promise<HttpResponse>

/** Wraps an endpoint core as an API Gateway HTTP API Lambda handler (middy, one error serializer). */
export function lambdaEndpoint(core: EndpointCore, getBroker: () => Promise<Broker>) {
  return middy<HttpApiEvent, HttpApiResult>()
    .use(oauthErrors())
    .handler(async (event) => {
      const req = toHttpRequest(event, event.requestContext?.requestId ?? '')
      return toHttpApiResult(await core(await getBroker(), req))
    })
}

import middy from '@middy/core'
import type { Broker } from '../../lib/broker.js'
import type { EndpointCore } from '../../lib/endpoints/manifest.js'
import {
  type HttpApiEvent,
  type HttpApiResult,
  toHttpApiResult,
  toHttpRequest,
} from '../../lib/http/api-gateway.js'
import { matchPath } from '../../lib/http/path-template.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { oauthErrors } from './oauth-errors.js'

/**
 * Wraps an endpoint core as an API Gateway HTTP API Lambda handler (middy, one error serializer).
 * Path parameters come from matching the request path against the endpoint's own `paths`, so the
 * Lambda and the local server hand the core the same `pathParams`.
 */
export function lambdaEndpoint(
  core: EndpointCore,
  getBroker: () => Promise<Broker>,
  paths: readonly string[] = [],
) {
  return middy<HttpApiEvent, HttpApiResult>()
    .use(oauthErrors())
    .handler(async (event) => {
      const req = withPathParams(toHttpRequest(event, event.requestContext?.requestId ?? ''), paths)
      return toHttpApiResult(await core(await getBroker(), req))
    })
}

function withPathParams(req: HttpRequest, paths: readonly string[]): HttpRequest {
  for (const template of paths) {
    const params = matchPath(template, req.path)
    if (params && Object.keys(params).length > 0) return { ...req, pathParams: params }
  }
  return req
}

import type { Broker } from '../broker.js'
import { MethodNotAllowed } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'

/** GET /healthz: liveness (the broker initialised: config, keys, verifiers). */
export async function healthEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed(['GET', 'HEAD'])
  return jsonResponse(200, { status: 'ok', issuer: broker.issuer }, req.requestId)
}

import type { Broker } from '../broker.js'
import { MethodNotAllowed } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { CACHEABLE } from './metadata.js'

/** GET /.well-known/jwks.json: the active key and any still-published previous keys. */
export async function jwksEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed(['GET', 'HEAD'])
  return jsonResponse(200, { keys: broker.keys.publicKeys }, req.requestId, CACHEABLE)
}

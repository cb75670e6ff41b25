import type { Broker } from '../broker.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { adminDeps } from './deps.js'
import { introspect } from './introspect.js'
import { revoke } from './revoke.js'

/** POST /introspect as an endpoint core of the broker (what functions/introspect wires). */
export function introspectEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  return introspect(adminDeps(broker), req)
}

/** POST /revoke as an endpoint core of the broker (what functions/revoke wires). */
export function revokeEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  return revoke(adminDeps(broker), req)
}

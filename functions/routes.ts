import type { Broker } from '../lib/broker.js'
import { ENDPOINTS } from '../lib/endpoints/manifest.js'
import type { LocalRoute } from '../lib/server/http-server.js'
import { lambdaEndpoint } from './middleware/endpoint.js'

/** The HTTP API routes of the endpoint manifest, bound to one broker: the local server's table. */
export function createRoutes(getBroker: () => Promise<Broker>): LocalRoute[] {
  return ENDPOINTS.flatMap((e) => {
    const handler = lambdaEndpoint(e.core, getBroker, e.paths)
    return e.paths.map((path) => ({ path, handler }))
  })
}

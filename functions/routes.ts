import type { Broker } from '../lib/broker.js'
import type { LocalRoute } from '../lib/server/http-server.js'
import * as health from './health/handler.js'
import * as introspect from './introspect/handler.js'
import * as jwks from './jwks/handler.js'
import * as metadata from './metadata/handler.js'
import * as nonce from './nonce/handler.js'
import * as revoke from './revoke/handler.js'
import * as token from './token/handler.js'

/** The HTTP API routes (as serverless.yml declares them), bound to one broker: the local server's table. */
export function createRoutes(getBroker: () => Promise<Broker>): LocalRoute[] {
  const meta = metadata.makeHandler(getBroker)
  return [
    { path: '/token', handler: token.makeHandler(getBroker) },
    { path: '/.well-known/jwks.json', handler: jwks.makeHandler(getBroker) },
    { path: '/.well-known/oauth-authorization-server', handler: meta },
    { path: '/.well-known/openid-configuration', handler: meta },
    { path: '/healthz', handler: health.makeHandler(getBroker) },
    { path: '/nonce', handler: nonce.makeHandler(getBroker) },
    { path: '/introspect', handler: introspect.makeHandler(getBroker) },
    { path: '/revoke', handler: revoke.makeHandler(getBroker) },
  ]
}

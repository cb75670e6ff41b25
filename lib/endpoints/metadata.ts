import { CIBA_GRANT, TOKEN_EXCHANGE_GRANT, TokenTypes } from '../assertion/token-types.js'
import type { Broker } from '../broker.js'
import { DPOP_ALGORITHMS } from '../dpop/proof.js'
import { MethodNotAllowed } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'

/** Discovery documents change only with a deploy or a key rotation; caches may keep them briefly. */
export const CACHEABLE = { 'Cache-Control': 'public, max-age=300' }

/** Joins the issuer and an endpoint path without doubling the slash. */
export function endpointUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}${path}`
}

/** RFC 8414 authorization server metadata (also served as openid-configuration). */
export function serverMetadata(broker: Broker): Record<string, unknown> {
  const { issuer } = broker
  const scopes = new Set<string>()
  for (const p of broker.config.policies) for (const s of p.grant.token?.scopes ?? []) scopes.add(s)
  return {
    issuer,
    token_endpoint: endpointUrl(issuer, '/token'),
    jwks_uri: endpointUrl(issuer, '/.well-known/jwks.json'),
    introspection_endpoint: endpointUrl(issuer, '/introspect'),
    revocation_endpoint: endpointUrl(issuer, '/revoke'),
    grant_types_supported: [TOKEN_EXCHANGE_GRANT, CIBA_GRANT],
    // RFC 8414 requires the member; Tessera has no authorization endpoint, so no response type.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: [...scopes].sort(),
    subject_token_types_supported: [...broker.verifiers.keys()].sort(),
    issued_token_types_supported: [TokenTypes.accessToken, TokenTypes.jwt, TokenTypes.awsCredentials],
    access_token_signing_alg_values_supported: [broker.keys.active.alg],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  }
}

/** GET /.well-known/oauth-authorization-server and /.well-known/openid-configuration. */
export async function metadataEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed(['GET', 'HEAD'])
  return jsonResponse(200, serverMetadata(broker), req.requestId, CACHEABLE)
}

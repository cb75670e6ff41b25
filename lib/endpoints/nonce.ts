import { MethodNotAllowed, NotFound } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { createNonceService } from '../instance/nonce.js'
import type { StateTable } from '../store/types.js'

/** The slice of the Broker that `POST /nonce` needs. */
export interface NonceEndpointBroker {
  readonly table: StateTable
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly config: {
    readonly nonce: { readonly rateLimit: number }
    readonly providers: readonly { readonly kind: string }[]
  }
}

/**
 * POST /nonce: `{ "nonce": "<10 digits>", "expires_in": 300 }`, single use, stored hashed,
 * rate-limited per source address (`nonce.rateLimit` per minute, 429 + Retry-After beyond).
 */
export async function nonceEndpoint(broker: NonceEndpointBroker, req: HttpRequest): Promise<HttpResponse> {
  // Nonces only serve azure-imds assertions: without such a provider nobody may write to the store here.
  if (!broker.config.providers.some((p) => p.kind === 'azure-imds')) throw new NotFound()
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const service = createNonceService(broker.table, {
    rateLimitPerMinute: broker.config.nonce.rateLimit,
    now: broker.now,
  })
  return jsonResponse(200, await service.issue(req.sourceIp), req.requestId)
}

import { authenticateAdmin } from '../admin/authenticate.js'
import type { Broker } from '../broker.js'
import { MethodNotAllowed } from '../errors.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { buildInventory } from '../inventory/report.js'

/**
 * GET /inventory (admin scope `tessera:inventory`): every identity seen, every configured policy
 * with what it grants and when each part was last used, and clone alerts. This instance writes its
 * own pending usage records first, so its recent exchanges are in the answer.
 */
export async function inventoryEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'GET') throw new MethodNotAllowed(['GET'])
  const caller = await authenticateAdmin(broker, req.headers, 'tessera:inventory', req.requestId)
  await broker.usage?.flushAll()
  // A store outage is a 503 from the store itself: no partial inventory is ever answered.
  const report = await buildInventory(broker.table, broker.config.policies, broker.now())
  broker.audit.emit({
    event: 'inventory.read',
    level: 'INFO',
    request_id: req.requestId,
    time: new Date(broker.now()).toISOString(),
    caller: caller.sub,
    caller_policy: caller.client_id,
    identities: report.identities.length,
  })
  return jsonResponse(200, report, req.requestId)
}

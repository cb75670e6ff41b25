import { authenticateAdmin } from '../admin/authenticate.js'
import type { Approver } from '../approval/approvals.js'
import { approvalsOf } from '../approval/broker-approvals.js'
import type { Broker } from '../broker.js'
import { ApprovalNotFound, InvalidRequest, MethodNotAllowed } from '../errors.js'
import { parseForm } from '../http/form.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { MAX_REASON_LENGTH } from '../token/request.js'

const ITEM_PATH = /^\/approvals\/([^/]+)$/

/**
 * `GET /approvals` (the pending requests this approver may decide) and `POST /approvals/{id}`
 * (`decision=approve|deny`, optional `reason`). The caller's Bearer Tessera token must hold scope
 * tessera:approve; its client_id is the approvers policy it speaks for, its sub the approver.
 */
export async function approvalsEndpoint(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  const id = approvalId(req)
  if (id === undefined && req.method !== 'GET') throw new MethodNotAllowed(['GET'])
  if (id !== undefined && req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const claims = await authenticateAdmin(broker, req.headers, 'tessera:approve', req.requestId)
  const approver: Approver = { policy: claims.client_id, sub: claims.sub, idp: claims.idp }
  const approvals = approvalsOf(broker)
  if (id === undefined) {
    return jsonResponse(200, { approvals: await approvals.list(approver) }, req.requestId)
  }
  const form = parseForm(req.headers['content-type'], req.body)
  const decision = form.get('decision')
  if (decision !== 'approve' && decision !== 'deny') {
    throw new InvalidRequest('decision must be approve or deny')
  }
  const reason = form.get('reason')
  if (reason !== undefined && reason.length > MAX_REASON_LENGTH) {
    throw new InvalidRequest(`reason is longer than ${MAX_REASON_LENGTH} characters`)
  }
  const { status } = await approvals.decide(id, approver, decision, { reason, requestId: req.requestId })
  return jsonResponse(200, { status }, req.requestId)
}

/** The `{id}` of `/approvals/{id}`; undefined for `/approvals` itself. */
function approvalId(req: HttpRequest): string | undefined {
  if (req.pathParams?.id !== undefined) return req.pathParams.id
  if (req.path === '/approvals') return undefined
  const match = ITEM_PATH.exec(req.path)
  if (!match?.[1]) throw new ApprovalNotFound()
  return match[1]
}

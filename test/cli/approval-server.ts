import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Broker } from '../../lib/broker.js'
import { approvalsEndpoint } from '../../lib/endpoints/approvals.js'
import { metadataEndpoint } from '../../lib/endpoints/metadata.js'
import { errorResponse } from '../../lib/http/respond.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import type { TestIssuer } from '../helpers/oidc-issuer.js'
import { agentBroker } from '../token/agent-fixture.js'

type Core = (broker: Broker, req: HttpRequest) => Promise<HttpResponse>

function coreFor(path: string): Core | undefined {
  if (path === '/.well-known/oauth-authorization-server') return metadataEndpoint
  if (path === '/token') return exchangeToken
  if (path === '/approvals' || path.startsWith('/approvals/')) return approvalsEndpoint
  return undefined
}

/** The agent broker behind a loopback HTTP server (its issuer is the server's URL), with the real cores. */
export async function serveAgentBroker(agents: TestIssuer, others: TestIssuer) {
  let broker: Broker | undefined
  let n = 0
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const request: HttpRequest = {
      method: req.method ?? 'GET',
      path,
      headers,
      body: Buffer.concat(chunks).toString(),
      query: '',
      sourceIp: '127.0.0.1',
      requestId: `cli-${++n}`,
    }
    let out: HttpResponse
    try {
      const core = coreFor(path)
      if (!core || !broker) throw new Error('no route')
      out = await core(broker, request)
    } catch (err) {
      out = errorResponse(err, request.requestId)
    }
    res.writeHead(out.status, out.headers).end(out.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const b = await agentBroker(agents, others, { issuer: base, clock: { ms: Date.now() } })
  broker = b.broker
  const close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return { ...b, base, close }
}

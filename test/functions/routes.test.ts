import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lambdaEndpoint } from '../../functions/middleware/endpoint.js'
import { createRoutes } from '../../functions/routes.js'
import type { Broker } from '../../lib/broker.js'
import { ENDPOINTS } from '../../lib/endpoints/manifest.js'
import { jsonResponse } from '../../lib/http/respond.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { type RunningServer, startLocalServer } from '../../lib/server/http-server.js'

const broker = {} as Broker
const echo = async (_: Broker, req: HttpRequest) =>
  jsonResponse(200, { path: req.path, params: req.pathParams ?? null }, req.requestId)

describe('local routes from the manifest', () => {
  it('one route per manifest path', () => {
    const routes = createRoutes(async () => broker)
    expect(routes.map((r) => r.path).sort()).toEqual(ENDPOINTS.flatMap((e) => e.paths).sort())
  })
})

describe('a templated path, served locally as on Lambda', () => {
  let server: RunningServer
  beforeAll(async () => {
    const handler = lambdaEndpoint(echo, async () => broker, ['/things/{id}'])
    server = await startLocalServer({
      host: '127.0.0.1',
      port: 0,
      routes: [
        { path: '/things/{id}', handler },
        { path: '/things', handler: lambdaEndpoint(echo, async () => broker, ['/things']) },
      ],
    })
  })
  afterAll(() => server.close())

  it('hands the core its path parameter', async () => {
    const res = await fetch(`${server.url}/things/abc-123`)
    expect(await res.json()).toEqual({ path: '/things/abc-123', params: { id: 'abc-123' } })
  })

  it('a literal route gets no path parameters', async () => {
    const res = await fetch(`${server.url}/things`)
    expect(await res.json()).toEqual({ path: '/things', params: null })
  })

  it.each(['/things/a/b', '/things/a%2Fb', '/things/..x/y', '/things/'])(
    '%s is the JSON 404',
    async (path) => {
      const res = await fetch(`${server.url}${path}`)
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error?: string }).error).toBe('not_found')
    },
  )

  it('the Lambda event path gives the same parameters', async () => {
    const handler = lambdaEndpoint(echo, async () => broker, ['/things/{id}']) as unknown as (
      e: unknown,
      c: unknown,
    ) => Promise<{ body: string }>
    const res = await handler(
      {
        rawPath: '/things/x9',
        requestContext: { requestId: 'r1', http: { method: 'GET', path: '/things/x9' } },
      },
      {},
    )
    expect(JSON.parse(res.body)).toEqual({ path: '/things/x9', params: { id: 'x9' } })
  })
})

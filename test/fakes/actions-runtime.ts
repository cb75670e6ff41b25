import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomToken, type TestIssuer } from '../helpers/oidc-issuer.js'

/**
 * A loopback stand-in for the GitHub Actions runtime's OIDC endpoint: GET
 * `ACTIONS_ID_TOKEN_REQUEST_URL&audience=A` with `Authorization: bearer <request token>` answers
 * `{"count": …, "value": <JWT>}` signed by a test issuer, with `aud: A` and the configured claims.
 */
export interface FakeActionsRuntime {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (already has a query, as GitHub's does). */
  readonly requestUrl: string
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  readonly requestToken: string
  /** The audience of each token request, in order. */
  readonly audiences: (string | null)[]
  /** Claims of the next tokens (besides iss, aud, iat, exp, jti). */
  claims: Record<string, unknown>
  /** The ID tokens handed out, in order. */
  readonly issued: string[]
  close(): Promise<void>
}

export async function startFakeActionsRuntime(
  issuer: TestIssuer,
  claims: Record<string, unknown>,
): Promise<FakeActionsRuntime> {
  const requestToken = randomToken()
  const audiences: (string | null)[] = []
  const issued: string[] = []
  const self = { claims }
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://runtime')
      if (url.pathname !== '/idtoken' || url.searchParams.get('api-version') !== '2.0')
        return void res.writeHead(404).end()
      if (req.headers.authorization !== `bearer ${requestToken}`)
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"bad token"}')
      const audience = url.searchParams.get('audience')
      audiences.push(audience)
      const value = await issuer.sign({ ...self.claims, ...(audience ? { aud: audience } : {}) })
      issued.push(value)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value }))
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(self, {
    requestUrl: `http://127.0.0.1:${port}/idtoken?api-version=2.0`,
    requestToken,
    audiences,
    issued,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
}

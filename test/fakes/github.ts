import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyAppJwt } from './github-app-jwt.js'

/**
 * A loopback GitHub REST API for GitHub App installation tokens: it verifies each app JWT (RS256)
 * with the App's public key for real (iss, iat/exp window of at most 10 minutes), serves the
 * installation lookups, mints installation tokens only within the installation's repositories and
 * permissions (404/422 like GitHub), revokes them, counts calls and injects failures.
 */

export interface FakeApp {
  /** The app JWT's expected `iss`: the App ID or the client ID. */
  readonly iss: string
  readonly appId: number
  /** The App's public key (PEM, DER SPKI or a KeyObject). */
  readonly publicKey: KeyObject | string
}

export interface FakeInstallation {
  readonly id: number
  readonly appId: number
  readonly account: string
  readonly type: 'Organization' | 'User'
  /** Repositories the installation may reach; '*' = all (then any name is accepted). */
  readonly repositories: '*' | readonly string[]
  readonly permissions: Readonly<Record<string, string>>
}

export type GithubRoute = 'org-installation' | 'user-installation' | 'access-tokens' | 'revoke' | 'other'

export type GithubFault =
  | '401' // app JWT refused: Bad credentials
  | 'rate-limit-403' // 403 secondary rate limit, with `retry-after`
  | 'rate-limit-reset' // 403 primary rate limit, x-ratelimit-remaining 0 and x-ratelimit-reset
  | '429' // 429 with `retry-after`
  | '404' // Not Found (e.g. the App was uninstalled meanwhile)
  | '500'
  | '502'
  | 'hang' // never answer
  | 'drop' // destroy the connection without an answer

export interface GithubRequestRecord {
  readonly route: GithubRoute
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** 'ok', or why the fake refused the credentials. */
  readonly auth: string
}

export interface GithubFake {
  /** `http://127.0.0.1:<port>`: the apiUrl (and web URL) for the config. */
  readonly url: string
  readonly requests: readonly GithubRequestRecord[]
  calls(route?: GithubRoute): number
  /** The next `count` requests (of `route`, when given) get `fault`. `retryAfter` seconds for rate limits. */
  fail(fault: GithubFault, opts?: { count?: number; route?: GithubRoute; retryAfter?: number }): void
  /** Every installation token minted so far, in order. */
  readonly tokens: readonly string[]
  /** True while the token is usable (minted, not revoked, not expired). */
  tokenValid(token: string): boolean
  /** Distinct app JWTs seen (one per signature). */
  appJwts(): number
  reset(): void
  close(): Promise<void>
}

const API_VERSION = '2022-11-28'
/** Starts the fake on 127.0.0.1 (random port). `now` is its clock (epoch ms) for JWT and token expiry. */
export async function startGithubFake(opts: {
  apps: readonly FakeApp[]
  installations: readonly FakeInstallation[]
  now?: () => number
}): Promise<GithubFake> {
  const now = opts.now ?? Date.now
  const apps = opts.apps.map((a) => ({
    ...a,
    key: typeof a.publicKey === 'string' ? createPublicKey(a.publicKey) : a.publicKey,
  }))
  const requests: GithubRequestRecord[] = []
  const tokens: string[] = []
  const live = new Map<string, { expiresAt: number; revoked: boolean }>()
  const jwts = new Set<string>()
  let faults: { fault: GithubFault; left: number; route: GithubRoute | undefined; retryAfter: number }[] = []
  const hanging = new Set<ServerResponse>()

  /** The app a JWT proves, or the reason it is refused. */
  const authApp = (headers: IncomingHttpHeaders): (typeof apps)[number] | string => {
    const verdict = verifyAppJwt(headers.authorization, apps, now())
    if (typeof verdict === 'string') return verdict
    jwts.add(verdict.signature)
    return verdict.app
  }

  const routeOf = (method: string, path: string): GithubRoute => {
    if (method === 'GET' && /^\/orgs\/[^/]+\/installation$/.test(path)) return 'org-installation'
    if (method === 'GET' && /^\/users\/[^/]+\/installation$/.test(path)) return 'user-installation'
    if (method === 'POST' && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) return 'access-tokens'
    if (method === 'DELETE' && path === '/installation/token') return 'revoke'
    return 'other'
  }

  const send = (
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      ...headers,
    })
    res.end(body === undefined ? undefined : JSON.stringify(body))
  }
  const notFound = (res: ServerResponse) =>
    send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' })
  const badCredentials = (res: ServerResponse) =>
    send(res, 401, {
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    })

  const installationJson = (i: FakeInstallation) => ({
    id: i.id,
    account: { login: i.account, type: i.type },
    app_id: i.appId,
    repository_selection: i.repositories === '*' ? 'all' : 'selected',
    permissions: i.permissions,
  })

  const injected = (route: GithubRoute, req: IncomingMessage, res: ServerResponse): boolean => {
    const f = faults.find((x) => x.left > 0 && (x.route === undefined || x.route === route))
    if (!f) return false
    f.left -= 1
    faults = faults.filter((x) => x.left > 0)
    switch (f.fault) {
      case '401':
        badCredentials(res)
        break
      case 'rate-limit-403':
        send(
          res,
          403,
          { message: 'You have exceeded a secondary rate limit.' },
          { 'retry-after': String(f.retryAfter) },
        )
        break
      case 'rate-limit-reset':
        send(
          res,
          403,
          { message: 'API rate limit exceeded for installation.' },
          {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': String(Math.floor(now() / 1000) + f.retryAfter),
          },
        )
        break
      case '429':
        send(res, 429, { message: 'Too Many Requests' }, { 'retry-after': String(f.retryAfter) })
        break
      case '404':
        notFound(res)
        break
      case '500':
      case '502':
        send(res, Number(f.fault), { message: 'Server Error' })
        break
      case 'hang':
        hanging.add(res)
        break
      case 'drop':
        req.socket.destroy()
        break
    }
    return true
  }

  const mintToken = (inst: FakeInstallation, body: string, res: ServerResponse) => {
    let input: { repositories?: unknown; permissions?: unknown }
    try {
      input = body ? (JSON.parse(body) as typeof input) : {}
    } catch {
      return send(res, 400, { message: 'Problems parsing JSON' })
    }
    const repos = input.repositories
    if (repos !== undefined) {
      if (!Array.isArray(repos) || !repos.every((r) => typeof r === 'string'))
        return send(res, 422, { message: 'Invalid request.' })
      if (
        inst.repositories !== '*' &&
        !repos.every((r) => (inst.repositories as readonly string[]).includes(r))
      ) {
        return send(res, 422, {
          message:
            'There is at least one repository that does not exist or is not accessible to the parent installation.',
        })
      }
    }
    const rank: Record<string, number> = { read: 1, write: 2, admin: 3 }
    const asked = (input.permissions ?? inst.permissions) as Record<string, string>
    for (const [name, level] of Object.entries(asked)) {
      const has = inst.permissions[name]
      if (has === undefined || (rank[level] ?? 9) > (rank[has] ?? 0)) {
        return send(res, 422, { message: 'The permissions requested are not granted to this installation.' })
      }
    }
    const token = `ghs_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`
    const expiresAt = Math.floor(now() / 1000) * 1000 + 3600_000
    tokens.push(token)
    live.set(token, { expiresAt, revoked: false })
    send(res, 201, {
      token,
      expires_at: new Date(expiresAt).toISOString().replace('.000Z', 'Z'),
      permissions: { ...asked, metadata: 'read' },
      repository_selection: repos === undefined && inst.repositories === '*' ? 'all' : 'selected',
      ...(Array.isArray(repos)
        ? {
            repositories: repos.map((name, k) => ({
              id: 1000 + k,
              name,
              full_name: `${inst.account}/${name}`,
            })),
          }
        : {}),
    })
  }

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const route = routeOf(method, path)
    const record = (auth: string) => requests.push({ route, method, path, headers: req.headers, body, auth })
    if (injected(route, req, res)) return record('fault')
    if (
      req.headers['x-github-api-version'] !== API_VERSION ||
      req.headers.accept !== 'application/vnd.github+json'
    ) {
      record('headers')
      return send(res, 400, { message: 'missing API version or Accept header' })
    }
    if (!req.headers['user-agent']) {
      record('headers')
      return send(res, 403, {
        message:
          'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
      })
    }
    if (route === 'revoke') {
      const m = /^(?:token|Bearer) (\S+)$/.exec(req.headers.authorization ?? '')
      const entry = m?.[1] ? live.get(m[1]) : undefined
      if (!entry || entry.revoked || entry.expiresAt <= now()) {
        record('bad token')
        return badCredentials(res)
      }
      entry.revoked = true
      record('ok')
      return send(res, 204)
    }
    const app = authApp(req.headers)
    if (typeof app === 'string') {
      record(app)
      return badCredentials(res)
    }
    record('ok')
    if (route === 'org-installation' || route === 'user-installation') {
      const login = decodeURIComponent(path.split('/')[2] ?? '').toLowerCase()
      const type = route === 'org-installation' ? 'Organization' : 'User'
      const inst = opts.installations.find(
        (i) => i.appId === app.appId && i.type === type && i.account.toLowerCase() === login,
      )
      return inst ? send(res, 200, installationJson(inst)) : notFound(res)
    }
    if (route === 'access-tokens') {
      const id = Number(path.split('/')[3])
      const inst = opts.installations.find((i) => i.id === id && i.appId === app.appId)
      return inst ? mintToken(inst, body, res) : notFound(res)
    }
    notFound(res)
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    tokens,
    calls: (route) => requests.filter((r) => route === undefined || r.route === route).length,
    fail(fault, o = {}) {
      faults.push({ fault, left: o.count ?? 1, route: o.route, retryAfter: o.retryAfter ?? 30 })
    },
    tokenValid(token) {
      const entry = live.get(token)
      return entry !== undefined && !entry.revoked && entry.expiresAt > now()
    },
    appJwts: () => jwts.size,
    reset() {
      requests.length = 0
      tokens.length = 0
      faults = []
      jwts.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

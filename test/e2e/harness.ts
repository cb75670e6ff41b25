import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRoutes } from '../../functions/routes.js'
import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, type BrokerOptions, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { type RunningServer, startLocalServer } from '../../lib/server/http-server.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

export interface Harness {
  readonly url: string
  readonly issuer: TestIssuer
  readonly broker: Broker
  readonly audit: MemoryAuditSink
  readonly metrics: MemoryTelemetry
  readonly server: RunningServer
  /** POSTs a form to /token (values may repeat). */
  post(
    form: Record<string, string | readonly string[]>,
    init?: { headers?: Record<string, string> },
  ): Promise<Response>
  /** A token-exchange form for `token` with the usual defaults. */
  exchangeForm(
    token: string,
    extra?: Record<string, string | readonly string[]>,
  ): Record<string, string | readonly string[]>
  /** Number of tokens minted so far (from the audit log). */
  minted(): number
  close(): Promise<void>
}

/** Default policies: deploy (acme/app main), release branches, the CI workflow. */
export const DEFAULT_POLICIES = `
policies:
  - name: deploy-app
    provider: ci
    match:
      sub: repo:acme/app:ref:refs/heads/main
      repository_owner_id: "123456"
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write, deploy:read], ttl: 10m }
  - name: release
    provider: ci
    match:
      sub: { glob: "repo:acme/app:ref:refs/heads/release/*" }
    grant:
      token: { audience: https://releases.example.com, scopes: [release], ttl: 5m }
  - name: workflow
    provider: ci
    match:
      job_workflow_ref: { regex: "acme/ci/.+@refs/heads/main" }
    grant:
      token: { audience: https://ci.example.com, ttl: 5m }
`

/** Starts a loopback issuer, a broker configured to trust it, and the local HTTP server in front. */
export async function startHarness(
  opts: {
    alg?: 'RS256' | 'ES256'
    providerExtra?: string
    /** The provider's `replay` setting (default once). */
    providerReplay?: 'once' | 'allow'
    /** Replaces DEFAULT_POLICIES; `{{broker}}` stands for the broker's URL (its issuer). */
    policies?: string
    brokerOptions?: BrokerOptions
  } = {},
): Promise<Harness> {
  const issuer = await startTestIssuer({ alg: opts.alg ?? 'RS256' })
  const dir = await mkdtemp(join(tmpdir(), 'tessera-e2e-'))
  let resolveBroker: (b: Broker) => void = () => {}
  const brokerReady = new Promise<Broker>((r) => {
    resolveBroker = r
  })
  const server = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    routes: createRoutes(() => brokerReady),
  })
  const yaml = `issuer: ${server.url}
signing: { algorithm: ES256, key: { local: ${join(dir, 'signing-key.json')} } }
providers:
  - name: ci
    kind: oidc
    issuer: ${issuer.issuer}
    audiences: [${server.url}]
    algorithms: [RS256, ES256]
    replay: ${opts.providerReplay ?? 'once'}
${opts.providerExtra ?? ''}
${(opts.policies ?? DEFAULT_POLICIES).replaceAll('{{broker}}', server.url)}`
  const audit = new MemoryAuditSink()
  const metrics = new MemoryTelemetry()
  const broker = await createBroker(loadConfigText(yaml, 'harness.yaml'), {
    audit,
    metrics,
    ...opts.brokerOptions,
  })
  resolveBroker(broker)
  const url = server.url
  return {
    url,
    issuer,
    broker,
    audit,
    metrics,
    server,
    post(form, init = {}) {
      const body = new URLSearchParams()
      for (const [k, v] of Object.entries(form))
        for (const item of typeof v === 'string' ? [v] : v) body.append(k, item)
      return fetch(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers },
        body: body.toString(),
      })
    },
    exchangeForm(token, extra = {}) {
      return {
        grant_type: TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: JWT_TYPE,
        audience: 'https://api.example.com',
        ...extra,
      }
    },
    minted: () => audit.events.filter((e) => e.event === 'token.exchange').length,
    async close() {
      await server.close()
      await issuer.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Claims of a subject the default deploy policy allows, addressed to the harness broker. */
export function goodClaims(
  h: Pick<Harness, 'url'>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { sub: 'repo:acme/app:ref:refs/heads/main', repository_owner_id: '123456', aud: h.url, ...extra }
}

/** Asserts a JSON OAuth error with no-store headers and no credential in the body. */
export async function expectRejected(res: Response, status: number, error: string): Promise<string> {
  const text = await res.text()
  const body = JSON.parse(text) as Record<string, unknown>
  if (res.status !== status || body.error !== error) {
    throw new Error(`expected ${status} ${error}, got ${res.status} ${text}`)
  }
  if ('access_token' in body) throw new Error('an error response carried an access_token')
  if (res.headers.get('cache-control') !== 'no-store') throw new Error('error response is cacheable')
  if (
    !res.headers.get('x-request-id') ||
    !String(body.error_description).endsWith(`(request id: ${res.headers.get('x-request-id')})`)
  ) {
    throw new Error('error description does not end with the request id')
  }
  return String(body.error_description)
}

import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type Broker, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { approvalsEndpoint } from '../../lib/endpoints/approvals.js'
import { BrokerError } from '../../lib/errors.js'
import type { HttpRequest, HttpResponse } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import type { TestIssuer } from '../helpers/oidc-issuer.js'

export const BROKER = 'https://sts.example.com'
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const CIBA = 'urn:openid:params:grant-type:ciba'
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
/** The test issuers sign with the real clock, so the broker's clock starts there too. */
export const T0 = Date.now()

/**
 * The worked agent setup: logs freely, tickets after one approval, production data after two,
 * and a delegation policy where agent-7 acts for users.
 */
export function agentConfig(agents: TestIssuer, others: TestIssuer, issuer = BROKER): string {
  const BROKER = issuer
  return `issuer: ${BROKER}
signing: { algorithm: ES256, key: { local: unused.json } }
providers:
  - { name: agents, kind: oidc, issuer: ${agents.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
  - { name: others, kind: oidc, issuer: ${others.issuer}, audiences: [${BROKER}], algorithms: [ES256], replay: once }
  - { name: corp-sso, kind: oidc, issuer: https://sso.example.com }
policies:
  - name: agent-logs
    provider: agents
    match: { sub: agent-7 }
    grant: { token: { audience: https://logs.example.com, scopes: [logs:read], ttl: 15m } }
  - name: agent-tickets
    provider: agents
    match: { sub: agent-7 }
    grant:
      token: { audience: https://tickets.example.com, scopes: [tickets:write], ttl: 15m }
      approval: { approvers: { policy: secops } }
  - name: agent-prod-data
    provider: agents
    match: { sub: agent-7 }
    grant:
      token: { audience: https://data.example.com, scopes: [data:read], ttl: 5m }
      approval: { approvers: { policy: secops }, minApprovals: 2, timeout: 1m }
  - name: on-behalf
    provider: agents
    match: { sub: { glob: "user-*" } }
    actor: { provider: agents, match: { sub: agent-7 } }
    grant: { token: { audience: https://api.example.com, scopes: [read], ttl: 10m } }
  - name: on-behalf-approved
    provider: agents
    match: { sub: { glob: "user-*" } }
    actor: { provider: agents, match: { sub: agent-7 } }
    grant:
      token: { audience: https://admin.example.com, scopes: [admin], ttl: 10m }
      approval: { approvers: { policy: secops } }
  - name: secops
    provider: corp-sso
    match: { groups: secops }
    grant: { token: { audience: ${BROKER}, scopes: ["tessera:approve"], ttl: 1h } }
`
}

let seq = 0

/** A broker over `table` (shared between instances when given), with an injected clock and a local key. */
export async function agentBroker(
  agents: TestIssuer,
  others: TestIssuer,
  opts: {
    table?: StateTable
    signer?: Signer
    clock?: { ms: number }
    issuer?: string
    /** Rewrites the config text (a policy changed on this instance). */
    configure?: (text: string) => string
  } = {},
) {
  const clock = opts.clock ?? { ms: T0 }
  const now = () => clock.ms
  const signer = opts.signer ?? (await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256'))
  const audit = new MemoryAuditSink()
  const table = opts.table ?? new MemoryTable(() => Math.floor(clock.ms / 1000))
  const text = agentConfig(agents, others, opts.issuer)
  const broker = await createBroker(loadConfigText(opts.configure?.(text) ?? text, 'agents.yaml'), {
    now,
    table,
    audit,
    keys: { active: signer, publicKeys: [signer.publicJwk] },
    metrics: new MemoryTelemetry(),
  })
  return { broker, clock, audit, table, signer }
}

/** A POST /token (or /approvals) request with a form body. */
export function formRequest(path: string, form: Record<string, string>, authorization?: string): HttpRequest {
  return {
    method: 'POST',
    path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: new URLSearchParams(form).toString(),
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `req-${++seq}`,
  }
}

/** Runs a core and returns its response, serializing a BrokerError as its status and JSON body. */
export async function answer(
  core: (broker: Broker, req: HttpRequest) => Promise<HttpResponse>,
  broker: Broker,
  req: HttpRequest,
): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const res = await core(broker, req)
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> }
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    return { status: err.status, body: { error: err.code, ...err.members } }
  }
}

/** The token endpoint, answered. */
export const exchange = (broker: Broker, form: Record<string, string>) =>
  answer(exchangeToken, broker, formRequest('/token', form))

/** An approver's decision through the approvals endpoint core. */
export async function decide(
  broker: Broker,
  signer: Signer,
  id: string,
  sub: string,
  decision: 'approve' | 'deny',
) {
  const token = (
    await mintAccessToken(signer, {
      issuer: broker.issuer,
      sub,
      audience: [broker.issuer],
      scopes: ['tessera:approve'],
      ttl: 3600,
      clientId: 'secops',
      idp: 'corp-sso',
      now: broker.now(),
    })
  ).token
  return answer(approvalsEndpoint, broker, formRequest(`/approvals/${id}`, { decision }, `Bearer ${token}`))
}

/** The claims of a compact JWS (no verification: the tests read what the broker put there). */
export function claimsOf(token: unknown): Record<string, unknown> {
  const payload = String(token).split('.')[1] ?? ''
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
}

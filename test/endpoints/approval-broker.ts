import { MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { type BrokerOptions, createBroker } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'

export const ISSUER = 'https://sts.example.com'
export const T0 = Date.parse('2026-12-06T12:00:00Z')

/** An agent policy held for approval by `secops`, a second approvers policy, and the corporate IdP. */
export const APPROVAL_CONFIG = `issuer: ${ISSUER}
signing: { key: { local: unused.json } }
providers:
  - name: agents
    kind: oidc
    issuer: https://agents.example.com
  - name: corp-sso
    kind: oidc
    issuer: https://sso.example.com
policies:
  - name: agent-prod-logs
    provider: agents
    match: { sub: agent-7 }
    grant:
      token: { audience: https://logs.example.com, scopes: [logs:read], ttl: 15m }
      approval: { approvers: { policy: secops }, minApprovals: 2, timeout: 10m }
  - name: secops
    provider: corp-sso
    match: { groups: secops }
    grant: { token: { audience: ${ISSUER}, scopes: ["tessera:approve"], ttl: 1h } }
  - name: auditors
    provider: corp-sso
    match: { groups: audit }
    grant: { token: { audience: ${ISSUER}, scopes: ["tessera:approve", "tessera:introspect"], ttl: 1h } }
`

/** A broker on a memory table with a local key and an injected clock, plus helpers to call its endpoints. */
export async function approvalBroker(opts: { config?: string; options?: BrokerOptions } = {}) {
  const clock = { ms: T0 }
  const now = () => clock.ms
  const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  const audit = new MemoryAuditSink()
  const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
  const broker = await createBroker(loadConfigText(opts.config ?? APPROVAL_CONFIG, 'tessera.yaml'), {
    now,
    table,
    audit,
    keys: { active: signer, publicKeys: [signer.publicJwk] },
    metrics: new MemoryTelemetry(),
    ...opts.options,
  })
  /** A Tessera token as `policy` would mint it for `sub` (default: an approver of secops). */
  const tokenFor = async (sub: string, o: { policy?: string; scopes?: string[]; aud?: string[] } = {}) =>
    (
      await mintAccessToken(signer, {
        issuer: ISSUER,
        sub,
        audience: o.aud ?? [ISSUER],
        scopes: o.scopes ?? ['tessera:approve'],
        ttl: 3600,
        clientId: o.policy ?? 'secops',
        idp: 'corp-sso',
        now: clock.ms,
      })
    ).token
  let n = 0
  const request = (
    method: string,
    path: string,
    o: { token?: string; form?: Record<string, string>; pathParams?: Record<string, string> } = {},
  ): HttpRequest => ({
    method,
    path,
    headers: {
      ...(o.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }),
    },
    body: o.form ? new URLSearchParams(o.form).toString() : '',
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `req-${++n}`,
    ...(o.pathParams ? { pathParams: o.pathParams } : {}),
  })
  return { broker, clock, audit, table, signer, tokenFor, request }
}

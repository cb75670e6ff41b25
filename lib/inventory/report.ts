import * as z from 'zod'
import type { PolicyConfig } from '../config/schema.js'
import { listBindings } from '../instance/binding.js'
import type { StateItem, StateTable } from '../store/types.js'
import { DAY_ATTR, GRANT_ATTR, IDENTITY_PK, POLICY_ATTR, POLICY_PK } from './usage.js'

const Iso = z.string().nullable()

export const InventoryIdentitySchema = z.strictObject({
  provider: z.string(),
  sub: z.string(),
  first_seen: Iso,
  last_seen: Iso,
  exchanges: z.number(),
  denied: z.number(),
  last_denied: Iso,
  last_ip: z.string().nullable(),
  instance_id: z.string().nullable(),
  policies: z.array(z.strictObject({ name: z.string(), last_used: z.string() })),
})

export const InventoryPolicySchema = z.strictObject({
  name: z.string(),
  provider: z.string(),
  kind: z.string(),
  /** What the policy grants (scopes, `name:level` permissions or role ARNs) and when each was last used. */
  grants: z.array(z.strictObject({ item: z.string(), last_used: Iso })),
  last_used: Iso,
  identities: z.number(),
  exchanges_per_day: z.array(z.strictObject({ day: z.string(), count: z.number() })),
})

export const InventoryCloneAlertSchema = z.strictObject({
  instance_id: z.string(),
  provider: z.string(),
  clone_alerts: z.number(),
  last_seen: Iso,
})

/** The JSON `GET /inventory` answers and `tessera inventory` reads. */
export const InventoryReportSchema = z.strictObject({
  generated_at: z.string(),
  identities: z.array(InventoryIdentitySchema),
  policies: z.array(InventoryPolicySchema),
  clone_alerts: z.array(InventoryCloneAlertSchema),
})
export type InventoryReport = z.output<typeof InventoryReportSchema>
export type InventoryIdentity = z.output<typeof InventoryIdentitySchema>
export type InventoryPolicy = z.output<typeof InventoryPolicySchema>

/** What a policy grants, as usage records name it: scopes, `name:level` permissions or the role ARN. */
export function grantItems(policy: PolicyConfig): { kind: string; items: string[] } {
  const grant = policy.grant as Record<string, unknown>
  if (policy.grant.aws) return { kind: 'aws', items: [policy.grant.aws.roleArn] }
  if (policy.grant.token) return { kind: 'token', items: [...policy.grant.token.scopes] }
  const github = grant.github as { permissions?: Record<string, string> } | undefined
  if (github)
    return { kind: 'github', items: Object.entries(github.permissions ?? {}).map(([n, l]) => `${n}:${l}`) }
  return { kind: Object.keys(grant)[0] ?? 'unknown', items: [] }
}

/** Builds the inventory from the stored usage records and the configured policies. */
export async function buildInventory(
  table: StateTable,
  policies: readonly PolicyConfig[],
  now: number,
): Promise<InventoryReport> {
  const [identityItems, policyItems, bindings] = await Promise.all([
    table.query(IDENTITY_PK),
    table.query(POLICY_PK),
    listBindings(table),
  ])
  const identities = identityItems.map(toIdentity)
  const usedBy = new Map<string, number>()
  for (const i of identities) for (const p of i.policies) usedBy.set(p.name, (usedBy.get(p.name) ?? 0) + 1)
  const records = new Map(policyItems.map((i) => [i.sk, i]))
  return {
    generated_at: new Date(now).toISOString(),
    identities,
    policies: policies.map((p) => toPolicy(p, records.get(p.name), usedBy.get(p.name) ?? 0)),
    clone_alerts: bindings
      .filter((b) => b.cloneAlerts > 0)
      .map((b) => ({
        instance_id: b.instanceId,
        provider: b.provider,
        clone_alerts: b.cloneAlerts,
        last_seen: iso(b.lastSeen || undefined),
      })),
  }
}

function toIdentity(item: StateItem): InventoryIdentity {
  const a = item.attrs
  const policies = Object.entries(a)
    .filter(([k]) => k.startsWith(POLICY_ATTR))
    .map(([k, v]) => ({ name: k.slice(POLICY_ATTR.length), last_used: iso(Number(v)) ?? '' }))
    .sort((x, y) => x.name.localeCompare(y.name))
  return {
    provider: String(a.provider ?? ''),
    sub: String(a.sub ?? ''),
    first_seen: iso(num(a.first_seen)),
    last_seen: iso(num(a.last_seen)),
    exchanges: num(a.exchanges) ?? 0,
    denied: num(a.denied) ?? 0,
    last_denied: iso(num(a.last_denied)),
    last_ip: typeof a.last_ip === 'string' ? a.last_ip : null,
    instance_id: typeof a.instance_id === 'string' ? a.instance_id : null,
    policies,
  }
}

function toPolicy(policy: PolicyConfig, record: StateItem | undefined, identities: number): InventoryPolicy {
  const { kind, items } = grantItems(policy)
  const a = record?.attrs ?? {}
  return {
    name: policy.name,
    provider: policy.provider,
    kind,
    grants: items.map((item) => ({ item, last_used: iso(num(a[`${GRANT_ATTR}${item}`])) })),
    last_used: iso(num(a.last_used)),
    identities,
    exchanges_per_day: Object.entries(a)
      .filter(([k]) => k.startsWith(DAY_ATTR))
      .map(([k, v]) => ({ day: k.slice(DAY_ATTR.length), count: Number(v) }))
      .sort((x, y) => x.day.localeCompare(y.day)),
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function iso(seconds: number | undefined): string | null {
  return seconds === undefined ? null : new Date(seconds * 1000).toISOString()
}

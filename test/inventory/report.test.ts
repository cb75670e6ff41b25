import { describe, expect, it } from 'vitest'
import type { PolicyConfig } from '../../lib/config/schema.js'
import { BINDING_PK } from '../../lib/instance/binding.js'
import { inventoryFindings } from '../../lib/inventory/findings.js'
import { buildInventory, InventoryReportSchema } from '../../lib/inventory/report.js'
import { UsageRecorder } from '../../lib/inventory/usage.js'
import { MemoryTable } from '../../lib/store/memory-table.js'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0)

const policies = [
  {
    name: 'deploy',
    provider: 'gh',
    match: { sub: 'repo:acme/app' },
    grant: { token: { audience: 'https://api', scopes: ['deploy:write', 'deploy:admin'], ttl: 600 } },
  },
  {
    name: 'aws-ro',
    provider: 'gh',
    match: { sub: 'repo:acme/app' },
    grant: { aws: { roleArn: 'arn:aws:iam::111122223333:role/ro', duration: 900 } },
  },
  {
    name: 'forgotten',
    provider: 'gh',
    match: { sub: 'repo:acme/old' },
    grant: { token: { audience: 'https://api', scopes: ['x'], ttl: 600 } },
  },
] as unknown as PolicyConfig[]

async function fixture() {
  const clock = { ms: T0 - 40 * DAY }
  const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
  const rec = new UsageRecorder(table, { now: () => clock.ms })
  // 40 days ago: the aws policy, by an identity idle since.
  rec.allowed({
    provider: 'gh',
    sub: 'repo:acme/idle',
    policy: 'aws-ro',
    granted: ['arn:aws:iam::111122223333:role/ro'],
  })
  await rec.flushAll()
  clock.ms = T0 - DAY
  rec.allowed({ provider: 'gh', sub: 'repo:acme/app', policy: 'deploy', granted: ['deploy:write'] })
  rec.allowed({ provider: 'gh', sub: 'repo:acme/app', policy: 'deploy', granted: ['deploy:write'] })
  await rec.flushAll()
  clock.ms = T0
  rec.allowed({ provider: 'gh', sub: 'repo:acme/app', policy: 'deploy', granted: ['deploy:write'] })
  rec.denied({ provider: 'gh', sub: 'repo:evil/x' })
  await rec.flushAll()
  return { table, report: await buildInventory(table, policies, T0) }
}

describe('buildInventory', () => {
  it('reports exact counts per identity and per day per policy, and matches its own schema', async () => {
    const { report } = await fixture()
    expect(InventoryReportSchema.parse(report)).toEqual(report)
    const app = report.identities.find((i) => i.sub === 'repo:acme/app')
    expect(app).toMatchObject({ exchanges: 3, denied: 0, last_seen: new Date(T0).toISOString() })
    expect(app?.policies).toEqual([{ name: 'deploy', last_used: new Date(T0).toISOString() }])
    const deploy = report.policies.find((p) => p.name === 'deploy')
    expect(deploy?.exchanges_per_day).toEqual([
      { day: '2026-12-05', count: 2 },
      { day: '2026-12-06', count: 1 },
    ])
    expect(deploy?.grants).toEqual([
      { item: 'deploy:write', last_used: new Date(T0).toISOString() },
      { item: 'deploy:admin', last_used: null },
    ])
    expect(deploy?.identities).toBe(1)
  })

  it('lists a policy never used with null use, and an identity only ever denied', async () => {
    const { report } = await fixture()
    expect(report.policies.find((p) => p.name === 'forgotten')).toMatchObject({
      last_used: null,
      identities: 0,
    })
    expect(report.identities.find((i) => i.sub === 'repo:evil/x')).toMatchObject({
      exchanges: 0,
      denied: 1,
      last_seen: null,
      last_denied: new Date(T0).toISOString(),
    })
  })

  it('includes clone alerts from instance bindings', async () => {
    const { table } = await fixture()
    await table.put({
      pk: BINDING_PK,
      sk: 'i-0abc',
      attrs: { provider: 'ec2', cloneAlerts: 2, lastSeen: T0 / 1000 },
    })
    const report = await buildInventory(table, policies, T0)
    expect(report.clone_alerts).toEqual([
      { instance_id: 'i-0abc', provider: 'ec2', clone_alerts: 2, last_seen: new Date(T0).toISOString() },
    ])
  })
})

describe('inventoryFindings', () => {
  it('finds the never-used policy, the stale policy, the unused scope, the idle and never-allowed identities', async () => {
    const { report } = await fixture()
    const findings = inventoryFindings(report, 30 * 86_400)
    const keyed = findings.map((f) => `${f.kind} ${f.subject}`)
    expect(keyed).toEqual(
      expect.arrayContaining([
        'policy-unused forgotten',
        'policy-unused aws-ro',
        'grant-unused deploy',
        'identity-idle gh/repo:acme/idle',
        'identity-idle gh/repo:evil/x',
      ]),
    )
    expect(keyed).toHaveLength(5)
    expect(findings.find((f) => f.kind === 'grant-unused')?.message).toContain('deploy:admin')
  })

  it('a wider window no longer calls the 40-day-old use stale', async () => {
    const { report } = await fixture()
    const keyed = inventoryFindings(report, 60 * 86_400).map((f) => `${f.kind} ${f.subject}`)
    expect(keyed).not.toContain('policy-unused aws-ro')
    expect(keyed).not.toContain('identity-idle gh/repo:acme/idle')
  })

  it('reports clone alerts', () => {
    const findings = inventoryFindings(
      {
        generated_at: new Date(T0).toISOString(),
        identities: [],
        policies: [],
        clone_alerts: [{ instance_id: 'i-1', provider: 'ec2', clone_alerts: 1, last_seen: null }],
      },
      86_400,
    )
    expect(findings).toEqual([expect.objectContaining({ kind: 'clone-alert', subject: 'i-1' })])
  })
})

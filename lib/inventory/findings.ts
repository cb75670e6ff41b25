import type { InventoryReport } from './report.js'

export type FindingKind = 'policy-unused' | 'grant-unused' | 'identity-idle' | 'clone-alert'

/** One thing an operator should look at, with what to do about it. */
export interface InventoryFinding {
  readonly kind: FindingKind
  /** The policy, identity (`provider/sub`) or instance concerned. */
  readonly subject: string
  readonly message: string
}

/**
 * Findings over an inventory: policies unused for `unusedSeconds` (or never), granted items never
 * used in that window while the policy is, identities idle that long, and every clone alert.
 */
export function inventoryFindings(report: InventoryReport, unusedSeconds: number): InventoryFinding[] {
  const now = Date.parse(report.generated_at)
  const cutoff = now - unusedSeconds * 1000
  const days = Math.round(unusedSeconds / 86_400)
  const window = days >= 1 ? `${days} days` : `${unusedSeconds} seconds`
  const stale = (at: string | null) => at === null || Date.parse(at) < cutoff
  const out: InventoryFinding[] = []
  for (const p of report.policies) {
    if (p.last_used === null) {
      out.push({
        kind: 'policy-unused',
        subject: p.name,
        message: 'never used: remove the policy or find out why',
      })
      continue
    }
    if (stale(p.last_used)) {
      out.push({
        kind: 'policy-unused',
        subject: p.name,
        message: `not used for ${window} (last ${p.last_used}): remove it if it is no longer needed`,
      })
      continue
    }
    for (const g of p.grants) {
      if (stale(g.last_used)) {
        out.push({
          kind: 'grant-unused',
          subject: p.name,
          message: `grants ${g.item} but it was ${g.last_used === null ? 'never used' : `not used for ${window}`}: narrow the grant`,
        })
      }
    }
  }
  for (const i of report.identities) {
    if (i.last_seen === null || stale(i.last_seen)) {
      out.push({
        kind: 'identity-idle',
        subject: `${i.provider}/${i.sub}`,
        message:
          i.last_seen === null
            ? `never allowed (${i.denied} denied exchanges): check its policies or the workload`
            : `idle for ${window} (last ${i.last_seen}): retire the workload or its policies`,
      })
    }
  }
  for (const c of report.clone_alerts) {
    out.push({
      kind: 'clone-alert',
      subject: c.instance_id,
      message: `${c.clone_alerts} clone alert(s) (provider ${c.provider}): investigate, then tessera instance reset`,
    })
  }
  return out
}

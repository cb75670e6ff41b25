import { formatTable } from '../cli/format-table.js'
import type { InventoryFinding } from './findings.js'
import type { InventoryReport } from './report.js'

/** Table rows shared by the text and HTML renderers. */
export function identityRows(report: InventoryReport): string[][] {
  return report.identities.map((i) => [
    i.provider,
    i.sub,
    shortTime(i.first_seen) ?? '-',
    shortTime(i.last_seen) ?? 'never',
    String(i.exchanges),
    String(i.denied),
    i.policies.map((p) => p.name).join(' ') || '-',
  ])
}
/** `2026-12-06 18:00Z`: minutes are enough to read a table; json and csv keep full ISO times. */
function shortTime(iso: string | null): string | null {
  return iso === null ? null : `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`
}

export const IDENTITY_HEADER = [
  'provider',
  'sub',
  'first seen',
  'last seen',
  'exchanges',
  'denied',
  'policies',
]

export function policyRows(report: InventoryReport, unusedSeconds: number): string[][] {
  const cutoff = Date.parse(report.generated_at) - unusedSeconds * 1000
  return report.policies.map((p) => [
    p.name,
    p.kind,
    shortTime(p.last_used) ?? 'never',
    String(p.identities),
    p.grants
      .filter((g) => g.last_used === null || Date.parse(g.last_used) < cutoff)
      .map((g) => g.item)
      .join(' ') || '-',
  ])
}
export const POLICY_HEADER = ['policy', 'kind', 'last used', 'identities', 'unused grants']

/** The `table` format: identities, policies, findings. */
export function renderInventoryTable(
  report: InventoryReport,
  findings: readonly InventoryFinding[],
  unusedSeconds: number,
): string {
  const parts = [
    `Inventory generated ${report.generated_at}`,
    '',
    `Identities (${report.identities.length})`,
    formatTable(IDENTITY_HEADER, identityRows(report)),
    '',
    `Policies (${report.policies.length})`,
    formatTable(POLICY_HEADER, policyRows(report, unusedSeconds)),
    '',
    `Findings (${findings.length})`,
    findings.length === 0
      ? 'none'
      : formatTable(
          ['kind', 'subject', 'what to do'],
          findings.map((f) => [f.kind, f.subject, f.message]),
        ),
  ]
  return `${parts.join('\n')}\n`
}

/** The `csv` format (RFC 4180): one row per identity, policy and finding, tagged by `record`. */
export function renderInventoryCsv(
  report: InventoryReport,
  findings: readonly InventoryFinding[],
  unusedSeconds: number,
): string {
  const rows: string[][] = [
    ['record', 'name', 'provider_or_kind', 'first_seen', 'last_seen', 'exchanges', 'denied', 'detail'],
  ]
  for (const i of report.identities) {
    rows.push([
      'identity',
      i.sub,
      i.provider,
      i.first_seen ?? '',
      i.last_seen ?? '',
      String(i.exchanges),
      String(i.denied),
      i.policies.map((p) => p.name).join(' '),
    ])
  }
  const cutoff = Date.parse(report.generated_at) - unusedSeconds * 1000
  for (const p of report.policies) {
    const unused = p.grants.filter((g) => g.last_used === null || Date.parse(g.last_used) < cutoff)
    rows.push([
      'policy',
      p.name,
      p.kind,
      '',
      p.last_used ?? '',
      String(p.exchanges_per_day.reduce((n, d) => n + d.count, 0)),
      '',
      `identities=${p.identities} unused=${unused.map((g) => g.item).join(' ')}`,
    ])
  }
  for (const f of findings) rows.push(['finding', f.subject, f.kind, '', '', '', '', f.message])
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`
}

function csvCell(value: string): string {
  // A leading =, +, - or @ would be a formula in a spreadsheet: make it text.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}

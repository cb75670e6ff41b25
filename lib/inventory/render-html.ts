import type { InventoryFinding } from './findings.js'
import { IDENTITY_HEADER, identityRows, POLICY_HEADER, policyRows } from './render-text.js'
import type { InventoryReport } from './report.js'

const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777']

/**
 * The `html` format: one self-contained page (inline CSS and SVG, no script, no external asset) with
 * summary figures, the findings, the tables and a chart of exchanges per day per policy.
 */
export function renderInventoryHtml(
  report: InventoryReport,
  findings: readonly InventoryFinding[],
  unusedSeconds: number,
): string {
  const exchanges = report.identities.reduce((n, i) => n + i.exchanges, 0)
  const denied = report.identities.reduce((n, i) => n + i.denied, 0)
  const figures: [string, number][] = [
    ['identities', report.identities.length],
    ['policies', report.policies.length],
    ['exchanges', exchanges],
    ['denied', denied],
    ['findings', findings.length],
  ]
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera inventory ${esc(report.generated_at)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#111827;background:#f9fafb}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.muted{color:#6b7280}
.figures{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.figure{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.75rem 1.25rem;min-width:7rem}
.figure b{display:block;font-size:1.6rem}
table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #e5e7eb}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e5e7eb;vertical-align:top;word-break:break-word}
th{background:#f3f4f6;font-weight:600;white-space:nowrap}
.kind{font-family:ui-monospace,monospace;font-size:.85em}
.chart{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:1rem}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em}
</style></head><body>
<h1>Tessera inventory</h1>
<p class="muted">Generated ${esc(report.generated_at)}; unused means not used in the last ${esc(describe(unusedSeconds))}.</p>
<div class="figures">${figures.map(([label, n]) => `<div class="figure"><b>${n}</b>${esc(label)}</div>`).join('')}</div>
<h2>Findings</h2>
${
  findings.length === 0
    ? '<p>None.</p>'
    : table(
        ['kind', 'subject', 'what to do'],
        findings.map((f) => [f.kind, f.subject, f.message]),
      )
}
<h2>Exchanges per day per policy</h2>
<div class="chart">${chart(report)}</div>
<h2>Policies</h2>
${table(POLICY_HEADER, policyRows(report, unusedSeconds))}
<h2>Identities</h2>
${table(IDENTITY_HEADER, identityRows(report))}
</body></html>
`
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')
  return `<table><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`
}

/** A grouped bar chart in inline SVG: one group per day, one bar per policy. */
function chart(report: InventoryReport): string {
  const series = report.policies.filter((p) => p.exchanges_per_day.length > 0)
  const days = [...new Set(series.flatMap((p) => p.exchanges_per_day.map((d) => d.day)))].sort().slice(-31)
  if (days.length === 0) return '<p class="muted">No exchanges recorded yet.</p>'
  const counts = series.map((p) => new Map(p.exchanges_per_day.map((d) => [d.day, d.count])))
  const max = Math.max(1, ...counts.flatMap((m) => days.map((d) => m.get(d) ?? 0)))
  const width = 720
  const height = 240
  const left = 48
  const bottom = 40
  const plotW = width - left - 8
  const plotH = height - bottom - 8
  const groupW = plotW / days.length
  const barW = Math.max(1, (groupW * 0.8) / series.length)
  const bars: string[] = []
  days.forEach((day, d) => {
    counts.forEach((m, s) => {
      const n = m.get(day) ?? 0
      const h = (n / max) * plotH
      const x = left + d * groupW + groupW * 0.1 + s * barW
      bars.push(
        `<rect x="${x.toFixed(1)}" y="${(8 + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"><title>${esc(series[s]?.name ?? '')} ${esc(day)}: ${n}</title></rect>`,
      )
    })
  })
  const labels = days
    .map((day, d) =>
      days.length <= 10 || d % Math.ceil(days.length / 10) === 0
        ? `<text x="${(left + d * groupW + groupW / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${esc(day.slice(5))}</text>`
        : '',
    )
    .join('')
  const axis = `<line x1="${left}" y1="${8 + plotH}" x2="${width - 8}" y2="${8 + plotH}" stroke="#9ca3af"/>
<text x="${left - 6}" y="14" text-anchor="end" font-size="11">${max}</text>
<text x="${left - 6}" y="${8 + plotH}" text-anchor="end" font-size="11">0</text>`
  const legend = series
    .map((p, s) => `<span><i style="background:${PALETTE[s % PALETTE.length]}"></i>${esc(p.name)}</span>`)
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Exchanges per day per policy">${axis}${bars.join('')}${labels}</svg>
<div class="legend">${legend}</div>`
}

function describe(seconds: number): string {
  const days = seconds / 86_400
  return Number.isInteger(days) ? `${days} days` : `${seconds} seconds`
}

/** HTML text escaping for element content and double-quoted attributes. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

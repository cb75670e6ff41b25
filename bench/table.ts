/** One printed row of the bench table. */
export interface Row {
  readonly phase: string
  readonly perSecond?: number | undefined
  readonly p50Ms?: number | undefined
  readonly p99Ms?: number | undefined
  readonly non2xx?: number | undefined
  readonly note?: string | undefined
}

/** A headline ratio or target check. */
export interface Check {
  readonly name: string
  readonly value: string
  readonly target: string
  /** undefined = informational. */
  readonly pass?: boolean | undefined
}

/** A number with thousands separators and fixed decimals; '-' when absent. */
export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return '-'
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

/** Renders the rows and the headline checks as two Markdown tables (readable in a terminal too). */
export function renderTable(rows: readonly Row[], checks: readonly Check[]): string {
  const phases = markdown(
    ['phase', 'exchanges/s', 'p50 ms', 'p99 ms', 'non-2xx', 'notes'],
    rows.map((r) => [
      r.phase,
      fmt(r.perSecond),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      r.non2xx === undefined ? '-' : String(r.non2xx),
      r.note ?? '',
    ]),
    [false, true, true, true, true, false],
  )
  const headline = markdown(
    ['headline', 'value', 'target', 'result'],
    checks.map((c) => [c.name, c.value, c.target, c.pass === undefined ? 'info' : c.pass ? 'PASS' : 'FAIL']),
    [false, true, false, false],
  )
  return `${phases}\n\n${headline}`
}

function markdown(head: readonly string[], body: readonly string[][], right: readonly boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)))
  const cell = (text: string, i: number) =>
    right[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0)
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`
  return [line(head), rule, ...body.map(line)].join('\n')
}

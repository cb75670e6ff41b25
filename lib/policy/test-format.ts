/** Reports of `tessera policy test`: human text, JSON, or GitHub workflow annotations. */
import { printable } from './lint-format.js'
import type { TestResult } from './test-run.js'

export const TEST_FORMATS = ['human', 'json', 'github'] as const
export type TestFormat = (typeof TEST_FORMATS)[number]

/** `N passed, M failed`: the closing line of every format but JSON (which carries the counts). */
export function summaryLine(results: readonly TestResult[]): string {
  const failed = results.filter((r) => !r.passed).length
  return `${results.length - failed} passed, ${failed} failed`
}

function human(results: readonly TestResult[], color: boolean): string {
  const paint = (code: string, text: string) => (color ? `${code}${text}\x1b[0m` : text)
  const lines: string[] = []
  for (const r of results) {
    if (r.passed) {
      lines.push(`${paint('\x1b[32m', '✓')} ${printable(r.name)}`)
      continue
    }
    lines.push(`${paint('\x1b[31m', '✗')} ${printable(r.name)}  (${r.file}:${r.line})`)
    lines.push(`    expected ${r.expected}, got ${printable(r.actual)}`)
    for (const line of r.explanation ?? []) lines.push(line === '' ? '' : `    ${line}`)
  }
  lines.push(summaryLine(results))
  return `${lines.join('\n')}\n`
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

function github(results: readonly TestResult[]): string {
  const out: string[] = []
  for (const r of results) {
    if (r.passed) continue
    const body = [`${r.name}: expected ${r.expected}, got ${r.actual}`, ...(r.explanation ?? [])].join('\n')
    out.push(
      `::error file=${escapeProperty(r.file)},line=${r.line},title=${escapeProperty('policy test')}::${escapeData(printable(body))}`,
    )
  }
  out.push(summaryLine(results))
  return `${out.join('\n')}\n`
}

/** Renders test results; `color` applies to the human format only. */
export function formatTestResults(results: readonly TestResult[], format: TestFormat, color = false): string {
  if (format === 'json') {
    const failed = results.filter((r) => !r.passed).length
    return `${JSON.stringify({ results, passed: results.length - failed, failed }, null, 2)}\n`
  }
  if (format === 'github') return github(results)
  return human(results, color)
}

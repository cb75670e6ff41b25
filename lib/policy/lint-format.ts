import { formatPath } from '../config/load.js'
import type { Finding, Severity } from './lint.js'

export const LINT_FORMATS = ['human', 'json', 'github'] as const
export type LintFormat = (typeof LINT_FORMATS)[number]

export interface FormatOptions {
  /** ANSI colours (human format only); the CLI sets it when stdout is a TTY. */
  readonly color?: boolean
}

const COLORS: Readonly<Record<Severity | 'dim' | 'bold', string>> = {
  error: '\x1b[31m',
  warning: '\x1b[33m',
  info: '\x1b[36m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
}
const RESET = '\x1b[0m'

/** Counts per severity. */
export function summarize(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 }
  for (const f of findings) counts[f.severity]++
  return counts
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Replaces control characters (newline and tab excepted) so config or token text cannot drive the terminal. */
export function printable(text: string): string {
  let out = ''
  for (const ch of text) {
    const code = ch.charCodeAt(0)
    const control = (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f)
    out += control ? '?' : ch
  }
  return out
}

function where(f: Finding): string {
  const file = f.file ?? ''
  if (f.line === undefined) return file ? `${file} (${formatPath(f.path)})` : formatPath(f.path)
  return `${file}:${f.line}:${f.col ?? 1}`
}

function human(findings: readonly Finding[], color: boolean): string {
  const paint = (style: keyof typeof COLORS, text: string) =>
    color ? `${COLORS[style]}${text}${RESET}` : text
  const lines: string[] = []
  for (const f of findings) {
    lines.push(
      `${where(f)}  ${paint(f.severity, f.severity)}  ${paint('bold', f.rule)}  ${printable(f.message)}`,
    )
    lines.push(paint('dim', `    hint: ${printable(f.hint)}`))
  }
  const c = summarize(findings)
  if (findings.length === 0) lines.push('no findings')
  else lines.push(`${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}, ${c.info} info`)
  return `${lines.join('\n')}\n`
}

/** GitHub workflow-command escaping: data, and property values (which also escape `:` and `,`). */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

const GITHUB_LEVEL: Readonly<Record<Severity, string>> = {
  error: 'error',
  warning: 'warning',
  info: 'notice',
}

function github(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const props: string[] = []
      if (f.file) props.push(`file=${escapeProperty(f.file)}`)
      if (f.line !== undefined) props.push(`line=${f.line}`, `col=${f.col ?? 1}`)
      props.push(`title=${escapeProperty(f.rule)}`)
      return `::${GITHUB_LEVEL[f.severity]} ${props.join(',')}::${escapeData(`${f.message}\nhint: ${f.hint}`)}\n`
    })
    .join('')
}

/** Renders lint findings as human text, JSON (`{findings, summary}`) or GitHub workflow annotations. */
export function formatFindings(
  findings: readonly Finding[],
  format: LintFormat,
  options: FormatOptions = {},
): string {
  if (format === 'json') return `${JSON.stringify({ findings, summary: summarize(findings) }, null, 2)}\n`
  if (format === 'github') return github(findings)
  return human(findings, options.color === true)
}

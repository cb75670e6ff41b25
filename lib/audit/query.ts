import { parseDuration } from '../config/duration.js'

/** What `tessera audit query` filters on; every present filter must hold (AND). */
export interface AuditFilter {
  readonly sub?: string | undefined
  readonly provider?: string | undefined
  readonly policy?: string | undefined
  /** base64url SHA-256 of a presented token, or the base64 hash of an issued GitHub token. */
  readonly tokenSha256?: string | undefined
  readonly instance?: string | undefined
  readonly event?: string | undefined
  /** Epoch ms bounds (inclusive). */
  readonly since?: number | undefined
  readonly until?: number | undefined
}

export type AuditLine = Readonly<Record<string, unknown>>

/** Fields that hold a token hash in one event kind or another. */
const HASH_FIELDS = ['token_sha256', 'issued_token_hash', 'token_hash', 'actor_token_sha256'] as const

/**
 * Parses `--since`/`--until`: a duration back from `now` (`2h`, `30m`, `7d`) or an ISO 8601 time.
 * Returns epoch ms, or undefined for text that is neither.
 */
export function parseTimeBound(text: string, now: number): number | undefined {
  const seconds = parseDuration(text)
  if (seconds !== undefined) return now - seconds * 1000
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * Reads audit lines in any of the forms Tessera's logs come in: JSON lines as `tessera serve` (and
 * Lambda) write them, CloudWatch's export with one `{"message": "<json line>", …}` object per line,
 * or the `{"events": [...]}` document `aws logs filter-log-events --output json` prints. Lines that
 * are not audit events (other log output, blank lines) are skipped and counted.
 */
export function parseAuditText(text: string): { lines: AuditLine[]; skipped: number } {
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) {
    const whole = tryJson(trimmed)
    if (isRecord(whole) && Array.isArray(whole.events)) return collect(whole.events)
  }
  return collect(trimmed === '' ? [] : trimmed.split(/\r?\n/).map((l) => tryJson(l.trim())))
}

function collect(items: readonly unknown[]): { lines: AuditLine[]; skipped: number } {
  const lines: AuditLine[] = []
  let skipped = 0
  for (const item of items) {
    const line = unwrap(item)
    if (line) lines.push(line)
    else skipped++
  }
  return { lines, skipped }
}

/** A CloudWatch event carries the audit line as a string in `message`; a plain line is the event. */
function unwrap(item: unknown): AuditLine | undefined {
  if (!isRecord(item)) return undefined
  if (typeof item.event === 'string') return item
  if (typeof item.message === 'string') {
    const inner = tryJson(item.message)
    if (isRecord(inner) && typeof inner.event === 'string') return inner
  }
  return undefined
}

/** Epoch ms of an audit line (`timestamp` as Powertools writes it, else `time`). */
export function lineTime(line: AuditLine): number | undefined {
  for (const field of ['timestamp', 'time']) {
    const v = line[field]
    if (typeof v === 'string') {
      const ms = Date.parse(v)
      if (!Number.isNaN(ms)) return ms
    }
  }
  return undefined
}

/** True when the line satisfies every filter. */
export function matchesFilter(line: AuditLine, f: AuditFilter): boolean {
  if (f.event !== undefined && line.event !== f.event) return false
  if (f.sub !== undefined && line.sub !== f.sub) return false
  if (f.provider !== undefined && line.provider !== f.provider) return false
  if (f.policy !== undefined && line.policy !== f.policy) return false
  if (f.instance !== undefined && line.instance_id !== f.instance) return false
  if (f.tokenSha256 !== undefined && !HASH_FIELDS.some((h) => line[h] === f.tokenSha256)) return false
  if (f.since !== undefined || f.until !== undefined) {
    const t = lineTime(line)
    if (t === undefined) return false
    if (f.since !== undefined && t < f.since) return false
    if (f.until !== undefined && t > f.until) return false
  }
  return true
}

/** The CloudWatch Logs Insights query that selects the same events. */
export function insightsQuery(f: AuditFilter): string {
  const clauses: string[] = []
  const eq = (field: string, v: string | undefined) => {
    if (v !== undefined) clauses.push(`${field} = ${quote(v)}`)
  }
  eq('event', f.event)
  eq('sub', f.sub)
  eq('provider', f.provider)
  eq('policy', f.policy)
  eq('instance_id', f.instance)
  if (f.tokenSha256 !== undefined) {
    clauses.push(`(${HASH_FIELDS.map((h) => `${h} = ${quote(f.tokenSha256 as string)}`).join(' or ')})`)
  }
  if (f.since !== undefined) clauses.push(`@timestamp >= ${f.since}`)
  if (f.until !== undefined) clauses.push(`@timestamp <= ${f.until}`)
  const lines = [
    'fields @timestamp, event, level, request_id, provider, sub, policy, token_sha256, instance_id, error',
    ...(clauses.length > 0 ? [`| filter ${clauses.join(' and ')}`] : ['| filter ispresent(event)']),
    '| sort @timestamp desc',
  ]
  return lines.join('\n')
}

function quote(v: string): string {
  return `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

function tryJson(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import {
  type AuditFilter,
  type AuditLine,
  insightsQuery,
  lineTime,
  matchesFilter,
  parseAuditText,
  parseTimeBound,
} from '../audit/query.js'
import { formatTable } from './format-table.js'

/** Audit input is read whole; past this it is refused (split the export by time instead). */
const MAX_INPUT_BYTES = 256 * 1024 * 1024

export const AUDIT_QUERY_USAGE = `usage: tessera audit query [FILE|-] [--sub S] [--provider P] [--policy N]
         [--token-sha256 H] [--instance I] [--event E] [--since 2h|ISO] [--until 2h|ISO]
         [--format table|json] [--insights]

Filters Tessera's audit lines: JSON lines as tessera serve writes them, or CloudWatch's
JSON export ({"message": ...} per line, or the {"events": [...]} document of
aws logs filter-log-events --output json). Reads FILE, or standard input for - or none.
--insights prints the equivalent CloudWatch Logs Insights query and reads nothing.

examples:
  tessera audit query audit.log --sub repo:acme/app:ref:refs/heads/main --since 24h
  aws logs filter-log-events --log-group-name /aws/lambda/tessera-prod-token --output json \\
    | tessera audit query - --event token.exchange --format json
  tessera audit query --token-sha256 3q2-7w... --insights`

export interface AuditQueryIo {
  readonly out: (text: string) => void
  readonly err: (line: string) => void
  readonly readStdin: () => Promise<string>
  readonly now: () => number
}

const defaultIo: AuditQueryIo = {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
  readStdin: async () => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length
      if (size > MAX_INPUT_BYTES) throw new Error(`standard input exceeds ${MAX_INPUT_BYTES} bytes`)
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  },
  now: Date.now,
}

class UsageError extends Error {}

/** `tessera audit query`: exit 0 (also when nothing matches), 1 unreadable input, 2 usage. */
export async function runAuditQuery(argv: string[], io: AuditQueryIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parseQueryArgs>
  try {
    parsed = parseQueryArgs(argv, io.now())
  } catch (e) {
    io.err(`tessera audit query: ${e instanceof Error ? e.message : String(e)}`)
    io.err(AUDIT_QUERY_USAGE.split('\n')[0] ?? '')
    return 2
  }
  if (parsed.help) {
    io.out(`${AUDIT_QUERY_USAGE}\n`)
    return 0
  }
  if (parsed.insights) {
    io.out(`${insightsQuery(parsed.filter)}\n`)
    return 0
  }
  let text: string
  try {
    text =
      parsed.file === undefined || parsed.file === '-' ? await io.readStdin() : await readInput(parsed.file)
  } catch (e) {
    io.err(
      `tessera audit query: cannot read ${parsed.file ?? 'standard input'}: ${e instanceof Error ? e.message : String(e)}`,
    )
    return 1
  }
  const { lines } = parseAuditText(text)
  const matched = lines.filter((l) => matchesFilter(l, parsed.filter))
  io.out(parsed.format === 'json' ? `${JSON.stringify(matched, null, 2)}\n` : renderLines(matched))
  return 0
}

async function readInput(file: string): Promise<string> {
  const buf = await readFile(file)
  if (buf.length > MAX_INPUT_BYTES) throw new Error(`file exceeds ${MAX_INPUT_BYTES} bytes`)
  return buf.toString('utf8')
}

function parseQueryArgs(argv: string[], now: number) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sub: { type: 'string' },
      provider: { type: 'string' },
      policy: { type: 'string' },
      'token-sha256': { type: 'string' },
      instance: { type: 'string' },
      event: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string', default: 'table' },
      insights: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (positionals.length > 1) throw new UsageError('at most one input file')
  if (values.format !== 'table' && values.format !== 'json')
    throw new UsageError('--format must be table or json')
  const bound = (flag: 'since' | 'until') => {
    const text = values[flag]
    if (text === undefined) return undefined
    const ms = parseTimeBound(text, now)
    if (ms === undefined)
      throw new UsageError(`--${flag} takes a duration (2h, 30m, 7d) or an ISO time, not ${text}`)
    return ms
  }
  const filter: AuditFilter = {
    sub: values.sub,
    provider: values.provider,
    policy: values.policy,
    tokenSha256: values['token-sha256'],
    instance: values.instance,
    event: values.event,
    since: bound('since'),
    until: bound('until'),
  }
  return { filter, file: positionals[0], format: values.format, insights: values.insights, help: values.help }
}

function renderLines(lines: readonly AuditLine[]): string {
  if (lines.length === 0) return 'no matching audit events\n'
  const rows = lines.map((l) => {
    const t = lineTime(l)
    return [
      t === undefined ? '-' : new Date(t).toISOString(),
      text(l.event),
      text(l.provider),
      text(l.sub),
      text(l.policy),
      text(l.error ?? l.scope ?? l.role_arn),
      text(l.request_id),
    ]
  })
  return `${formatTable(['time', 'event', 'provider', 'sub', 'policy', 'error/grant', 'request id'], rows)}\n${lines.length} event(s)\n`
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '-' : JSON.stringify(v)
}

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
import { UsageError } from '../errors.js'
import { readCapped } from '../http/read-capped.js'
import { decodeUtf8 } from '../text/decode-utf8.js'
import { defineCommand, type FlagSpecs } from './command.js'
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
    const bytes = await readCapped(process.stdin, MAX_INPUT_BYTES)
    if (bytes === undefined) throw new Error(`standard input exceeds ${MAX_INPUT_BYTES} bytes`)
    const text = decodeUtf8(bytes)
    if (text === undefined) throw new Error('standard input is not UTF-8 text')
    return text
  },
  now: Date.now,
}

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
  return auditQuery(parsed, io)
}

/** Filters the input (or prints the Insights query); exit 0 even when nothing matches, 1 unreadable. */
async function auditQuery(parsed: ReturnType<typeof checkQueryArgs>, io: AuditQueryIo): Promise<number> {
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

const QUERY_FLAGS = {
  sub: { type: 'string', value: 'S', help: 'only events of this subject' },
  provider: { type: 'string', value: 'P', help: 'only events of this provider' },
  policy: { type: 'string', value: 'N', help: 'only events of this policy' },
  'token-sha256': {
    type: 'string',
    value: 'H',
    help: 'only events of this token hash (presented or issued)',
  },
  instance: { type: 'string', value: 'I', help: 'only events of this instance id' },
  event: { type: 'string', value: 'E', help: 'only this event (token.exchange, token.denied, ...)' },
  since: { type: 'string', value: '2h|ISO', help: 'from this long ago, or this time' },
  until: { type: 'string', value: '2h|ISO', help: 'up to this long ago, or this time' },
  format: { type: 'string', default: 'table', value: 'F', help: 'table or json' },
  insights: { type: 'boolean', default: false, help: 'print the CloudWatch Logs Insights query instead' },
} as const satisfies FlagSpecs

/** `tessera audit query` as a CLI command spec. */
export const auditQueryCommand = defineCommand({
  name: 'audit query',
  summary: 'filter audit lines (JSON lines or CloudWatch export), or print the Logs Insights query',
  synopsis:
    '[FILE|-] [--sub S] [--provider P] [--policy N] [--token-sha256 H] [--instance I] [--event E] [--since 2h|ISO] [--until ...] [--format table|json] [--insights]',
  positionals: ['FILE'],
  flags: QUERY_FLAGS,
  examples:
    AUDIT_QUERY_USAGE.split('examples:\n')[1]
      ?.split('\n')
      .map((l) => l.trim()) ?? [],
  run({ values, positionals }, cli) {
    return auditQuery(checkQueryArgs(values, positionals, cli.now()), {
      out: (text) => cli.stdout.write(text),
      err: (line) => cli.stderr.write(`${line}\n`),
      readStdin: defaultIo.readStdin,
      now: cli.now,
    })
  },
})

function parseQueryArgs(argv: string[], now: number) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...QUERY_FLAGS, help: { type: 'boolean', short: 'h', default: false } },
  })
  return { ...checkQueryArgs(values, positionals, now), help: values.help }
}

function checkQueryArgs(
  values: {
    sub?: string | undefined
    provider?: string | undefined
    policy?: string | undefined
    'token-sha256'?: string | undefined
    instance?: string | undefined
    event?: string | undefined
    since?: string | undefined
    until?: string | undefined
    format: string
    insights: boolean
  },
  positionals: readonly string[],
  now: number,
) {
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
  return { filter, file: positionals[0], format: values.format, insights: values.insights }
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

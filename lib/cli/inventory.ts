import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import * as z from 'zod'
import { parseDuration } from '../config/duration.js'
import { isLoopbackHost } from '../config/url.js'
import { inventoryFindings } from '../inventory/findings.js'
import { renderInventoryHtml } from '../inventory/render-html.js'
import { renderInventoryCsv, renderInventoryTable } from '../inventory/render-text.js'
import { type InventoryReport, InventoryReportSchema } from '../inventory/report.js'
import { readTokenArg } from './token-arg.js'

const TIMEOUT_MS = 15_000
const MAX_BODY_BYTES = 32 * 1024 * 1024

export const INVENTORY_USAGE = `usage: tessera inventory --url U --admin-token T|@file [--unused 30d]
         [--format table|json|csv|html] [--out F]

Reads the broker's /inventory (admin scope tessera:inventory) and reports every identity,
every policy with the grants it never uses, and findings: policies unused for --unused
(default 30d) or never, granted scopes/permissions/roles never used in that window,
identities idle that long, clone alerts. html is one self-contained file.

examples:
  tessera inventory --url https://sts.example.com --admin-token @admin.jwt
  tessera inventory --url https://sts.example.com --admin-token @admin.jwt --format html --out inventory.html`

const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() })

export interface InventoryIo {
  readonly fetch: typeof globalThis.fetch
  readonly out: (text: string) => void
  readonly err: (line: string) => void
}

const defaultIo: InventoryIo = {
  fetch: (...args) => globalThis.fetch(...args),
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
}

class UsageError extends Error {}

/** `tessera inventory`: exit 0 printed, 1 refused or unreachable, 2 usage. Never prints the admin token. */
export async function runInventory(argv: string[], io: InventoryIo = defaultIo): Promise<number> {
  let args: Awaited<ReturnType<typeof parseInventoryArgs>>
  try {
    args = await parseInventoryArgs(argv)
  } catch (e) {
    io.err(`tessera inventory: ${e instanceof Error ? e.message : String(e)}`)
    io.err(INVENTORY_USAGE.split('\n')[0] ?? '')
    return 2
  }
  if (args === 'help') {
    io.out(`${INVENTORY_USAGE}\n`)
    return 0
  }
  const endpoint = `${args.url}/inventory`
  let report: InventoryReport
  try {
    const res = await io.fetch(endpoint, {
      headers: { authorization: `Bearer ${args.adminToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    })
    const text = await res.text()
    if (text.length > MAX_BODY_BYTES) throw new Error(`the answer exceeds ${MAX_BODY_BYTES} bytes`)
    const body: unknown = parseJson(text)
    if (!res.ok) {
      const e = ErrorSchema.safeParse(body)
      io.err(
        e.success
          ? `${e.data.error}: ${e.data.error_description ?? ''}`
          : `http_error: HTTP ${res.status} from ${endpoint}`,
      )
      return 1
    }
    const parsed = InventoryReportSchema.safeParse(body)
    if (!parsed.success) throw new Error(`${endpoint} answered something that is not an inventory`)
    report = parsed.data
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : ''
    io.err(
      `tessera inventory: cannot read ${endpoint}: ${e instanceof Error ? e.message : String(e)}${cause}`,
    )
    return 1
  }
  const findings = inventoryFindings(report, args.unused)
  const rendered =
    args.format === 'json'
      ? `${JSON.stringify({ ...report, findings }, null, 2)}\n`
      : args.format === 'csv'
        ? renderInventoryCsv(report, findings, args.unused)
        : args.format === 'html'
          ? renderInventoryHtml(report, findings, args.unused)
          : renderInventoryTable(report, findings, args.unused)
  if (args.out === undefined) io.out(rendered)
  else {
    try {
      await writeFile(args.out, rendered, { mode: 0o600 })
    } catch (e) {
      io.err(`tessera inventory: cannot write ${args.out}: ${e instanceof Error ? e.message : String(e)}`)
      return 1
    }
    io.err(`wrote ${args.out} (${findings.length} finding(s))`)
  }
  return 0
}

async function parseInventoryArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      unused: { type: 'string', default: '30d' },
      format: { type: 'string', default: 'table' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help' as const
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
  if (!values.url) throw new UsageError('--url is required')
  if (!values['admin-token']) throw new UsageError('--admin-token is required')
  const format = values.format
  if (format !== 'table' && format !== 'json' && format !== 'csv' && format !== 'html')
    throw new UsageError('--format must be table, json, csv or html')
  const unused = parseDuration(values.unused)
  if (unused === undefined || unused === 0)
    throw new UsageError('--unused takes a duration such as 30d or 12h')
  const url = values.url.replace(/\/+$/, '')
  let parsedUrl: URL
  try {
    parsedUrl = new URL(url)
  } catch {
    throw new UsageError(`--url ${url} is not a URL`)
  }
  if (
    parsedUrl.protocol !== 'https:' &&
    !(parsedUrl.protocol === 'http:' && isLoopbackHost(parsedUrl.hostname))
  )
    throw new UsageError('--url must use https (plain http only for loopback hosts)')
  const adminToken = await readTokenArg(values['admin-token'])
  return { url, adminToken, unused, format, out: values.out } as const
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

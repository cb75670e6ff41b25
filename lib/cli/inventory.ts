import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import * as z from 'zod'
import { fetchBroker } from '../client/reach-broker.js'
import { parseDuration } from '../config/duration.js'
import { urlProblem } from '../config/url.js'
import { UsageError } from '../errors.js'
import { readCapped } from '../http/read-capped.js'
import { inventoryFindings } from '../inventory/findings.js'
import { renderInventoryHtml } from '../inventory/render-html.js'
import { renderInventoryCsv, renderInventoryTable } from '../inventory/render-text.js'
import { type InventoryReport, InventoryReportSchema } from '../inventory/report.js'
import { decodeUtf8 } from '../text/decode-utf8.js'
import { defineCommand, type FlagSpecs } from './command.js'
import { ADMIN_TOKEN_FLAG } from './common-flags.js'
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
  return inventoryReport(args, io)
}

/** Fetches /inventory and prints (or writes) the report; exit 0, or 1 refused or unreachable. */
async function inventoryReport(
  args: Exclude<Awaited<ReturnType<typeof parseInventoryArgs>>, 'help'>,
  io: InventoryIo,
): Promise<number> {
  const endpoint = `${args.url}/inventory`
  let report: InventoryReport
  try {
    const res = await fetchBroker(
      endpoint,
      {
        headers: { authorization: `Bearer ${args.adminToken}`, accept: 'application/json' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'error',
      },
      io.fetch,
    )
    // Read at most the cap: a huge or endless answer is refused without holding it in memory.
    const bytes = res.body ? await readCapped(res.body, MAX_BODY_BYTES) : new Uint8Array()
    if (bytes === undefined) throw new Error(`the answer exceeds ${MAX_BODY_BYTES} bytes`)
    const body: unknown = parseJson(decodeUtf8(bytes) ?? '')
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
    io.err(`tessera inventory: ${e instanceof Error ? e.message : String(e)}`)
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

const INVENTORY_FLAGS = {
  url: { type: 'string', value: 'URL', help: 'the broker base URL (its issuer; required)' },
  'admin-token': { ...ADMIN_TOKEN_FLAG, help: 'a Tessera token with scope tessera:inventory' },
  unused: {
    type: 'string',
    default: '30d',
    value: 'D',
    help: 'what counts as unused: not used for this long',
  },
  format: { type: 'string', default: 'table', value: 'F', help: 'table, json, csv or html' },
  out: { type: 'string', value: 'F', help: 'write the report to this file (0600) instead of stdout' },
} as const satisfies FlagSpecs

/** `tessera inventory` as a CLI command spec. */
export const inventoryCommand = defineCommand({
  name: 'inventory',
  summary: 'who holds what: identities, policies, never-used grants, findings (GET /inventory)',
  synopsis: '--url U --admin-token T|@file [--unused 30d] [--format table|json|csv|html] [--out F]',
  flags: INVENTORY_FLAGS,
  examples:
    INVENTORY_USAGE.split('examples:\n')[1]
      ?.split('\n')
      .map((l) => l.trim()) ?? [],
  async run({ values }, cli) {
    const args = await checkInventoryArgs(values, [], cli.stdin)
    return inventoryReport(args, {
      fetch: cli.fetch,
      out: (text) => cli.stdout.write(text),
      err: (line) => cli.stderr.write(`${line}\n`),
    })
  },
})

async function parseInventoryArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...INVENTORY_FLAGS, help: { type: 'boolean', short: 'h', default: false } },
  })
  if (values.help) return 'help' as const
  return checkInventoryArgs(values, positionals, process.stdin)
}

async function checkInventoryArgs(
  values: {
    url?: string | undefined
    'admin-token'?: string | undefined
    unused: string
    format: string
    out?: string | undefined
  },
  positionals: readonly string[],
  stdin: NodeJS.ReadableStream,
) {
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
  const problem = urlProblem(url, '--url')
  if (problem) throw new UsageError(problem)
  const adminToken = await readTokenArg(values['admin-token'], stdin)
  return { url, adminToken, unused, format, out: values.out } as const
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

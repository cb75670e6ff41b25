import { parseArgs } from 'node:util'
import * as z from 'zod'
import { fetchBroker } from '../client/reach-broker.js'
import { urlProblem } from '../config/url.js'
import { UsageError } from '../errors.js'
import { type CliIo, type CommandSpec, defineCommand } from './command.js'
import { ADMIN_TOKEN_FLAG, URL_FLAG } from './common-flags.js'
import { readTokenArg } from './token-arg.js'

const TIMEOUT_MS = 10_000

const USAGE = `usage: tessera approvals list --url U --admin-token T|@file
       tessera approvals approve|deny <id> --url U --admin-token T|@file [--reason R]`

const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() })
const ListedSchema = z.object({
  approvals: z.array(
    z.object({
      id: z.string(),
      policy: z.string(),
      requester: z.object({ provider: z.string(), sub: z.string() }),
      grant: z.record(z.string(), z.unknown()),
      reason: z.string().nullable(),
      requested_at: z.string(),
      expires_at: z.string(),
      approvals: z.array(z.string()),
    }),
  ),
})
const DecidedSchema = z.object({ status: z.enum(['approved', 'denied', 'pending']) })

/** Where `runApprovals` writes and how it reaches the network (tests inject these). */
export interface ApprovalsIo {
  readonly fetch: typeof globalThis.fetch
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

const defaultIo: ApprovalsIo = {
  fetch: (...args) => globalThis.fetch(...args),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

interface Parsed {
  readonly action: 'list' | 'approve' | 'deny'
  readonly id?: string | undefined
  readonly base: string
  readonly adminToken: string
  readonly reason?: string | undefined
}

/**
 * `tessera approvals list|approve|deny`: the approver's side, against `/approvals` with a Tessera
 * token holding tessera:approve. Exit codes: 0 done, 1 refused or unreachable, 2 usage. Broker
 * errors print as `<error>: <error_description>` on stderr; the token is never printed.
 */
export async function runApprovals(argv: string[], io: ApprovalsIo = defaultIo): Promise<number> {
  let parsed: Parsed
  try {
    parsed = await parseApprovalsArgs(argv)
  } catch (e) {
    io.err(`tessera approvals: ${e instanceof Error ? e.message : String(e)}`)
    if (e instanceof UsageError || (e instanceof Error && 'code' in e)) io.err(USAGE)
    return 2
  }
  return callApprovals(parsed, io)
}

/** Lists, approves or denies at the broker; exit 0 done, 1 refused or unreachable. */
async function callApprovals(parsed: Parsed, io: ApprovalsIo): Promise<number> {
  try {
    const list = parsed.action === 'list'
    const form = new URLSearchParams({ decision: parsed.action })
    if (parsed.reason !== undefined) form.set('reason', parsed.reason)
    const url = list
      ? `${parsed.base}/approvals`
      : `${parsed.base}/approvals/${encodeURIComponent(parsed.id ?? '')}`
    const res = await fetchBroker(
      url,
      {
        method: list ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${parsed.adminToken}`,
          accept: 'application/json',
          ...(list ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        ...(list ? {} : { body: form.toString() }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'error',
      },
      io.fetch,
    )
    const body: unknown = await res.json().catch(() => undefined)
    if (!res.ok) {
      const e = ErrorSchema.safeParse(body)
      io.err(
        e.success ? `${e.data.error}: ${e.data.error_description ?? ''}` : `http_error: HTTP ${res.status}`,
      )
      return 1
    }
    if (list) {
      const listed = ListedSchema.safeParse(body)
      if (!listed.success) throw new Error('the broker answered with an unexpected approvals list')
      for (const line of describeList(listed.data)) io.out(line)
      return 0
    }
    const decided = DecidedSchema.safeParse(body)
    if (!decided.success) throw new Error('the broker answered with an unexpected decision')
    io.out(
      decided.data.status === 'pending'
        ? `approved ${parsed.id}; more approvals are needed`
        : `${decided.data.status} ${parsed.id}`,
    )
    return 0
  } catch (e) {
    io.err(`tessera approvals: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

async function parseApprovalsArgs(argv: string[]): Promise<Parsed> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      reason: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  })
  const [action, id, ...extra] = positionals
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  return toParsed(action, id, values, process.env, process.stdin)
}

function toParsed(
  action: string | undefined,
  id: string | undefined,
  values: { url?: string | undefined; 'admin-token'?: string | undefined; reason?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
  stdin: NodeJS.ReadableStream,
): Promise<Parsed> {
  if (action !== 'list' && action !== 'approve' && action !== 'deny')
    throw new UsageError('give list, approve <id> or deny <id>')
  if (action === 'list' && (id !== undefined || values.reason !== undefined))
    throw new UsageError('list takes no id and no --reason')
  if (action !== 'list' && (id === undefined || !/^[A-Za-z0-9_-]{1,128}$/.test(id)))
    throw new UsageError(`${action} needs the approval id that list shows`)
  const url = values.url ?? env.TESSERA_URL
  if (!url) throw new UsageError('--url is required (the broker base URL)')
  const token = values['admin-token']
  if (!token) throw new UsageError('--admin-token is required (a token or @file)')
  const base = brokerBase(url)
  return readTokenArg(token, stdin).then((adminToken) => ({
    action,
    id,
    base,
    adminToken,
    reason: values.reason,
  }))
}

const FLAGS = {
  url: { ...URL_FLAG, help: 'the broker base URL (default TESSERA_URL; required)' },
  'admin-token': { ...ADMIN_TOKEN_FLAG, help: 'a Tessera token with scope tessera:approve' },
} as const

/** `tessera approvals list|approve|deny`: one spec per action, the approver's side of /approvals. */
export function approvalsCommands(): CommandSpec[] {
  const io = (cli: CliIo): ApprovalsIo => ({
    fetch: cli.fetch,
    out: (line) => cli.stdout.write(`${line}\n`),
    err: (line) => cli.stderr.write(`${line}\n`),
  })
  const list = defineCommand({
    name: 'approvals list',
    summary: 'list the pending approval requests you may decide',
    synopsis: '--url U --admin-token T|@file',
    flags: FLAGS,
    examples: ['tessera approvals list --url https://sts.example.com --admin-token @approver.jwt'],
    async run({ values }, cli) {
      return callApprovals(await toParsed('list', undefined, values, cli.env, cli.stdin), io(cli))
    },
  })
  const decide = (action: 'approve' | 'deny') =>
    defineCommand({
      name: `approvals ${action}`,
      summary: `${action} one pending approval request (its id from approvals list)`,
      synopsis: '<id> --url U --admin-token T|@file [--reason R]',
      positionals: ['ID'],
      flags: { ...FLAGS, reason: { type: 'string', value: 'R', help: 'why, kept in the audit log' } },
      examples: [
        `tessera approvals ${action} Xq3… --url https://sts.example.com --admin-token @approver.jwt --reason 'ticket OPS-42'`,
      ],
      async run({ values, positionals }, cli) {
        return callApprovals(await toParsed(action, positionals[0], values, cli.env, cli.stdin), io(cli))
      },
    })
  return [
    list as unknown as CommandSpec,
    decide('approve') as unknown as CommandSpec,
    decide('deny') as unknown as CommandSpec,
  ]
}

/** The broker's base URL under the one URL policy (https, or plain http on loopback only): the approver's token goes there. */
function brokerBase(url: string): string {
  const problem = urlProblem(url, '--url', { query: false })
  if (problem) throw new UsageError(problem)
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '')
}

function describeList(listed: z.output<typeof ListedSchema>): string[] {
  if (listed.approvals.length === 0) return ['no pending approval requests for you']
  return listed.approvals.map((a) => {
    const grant = Object.entries(a.grant)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ')
    const reason = a.reason === null ? '' : ` reason: ${a.reason};`
    const so = a.approvals.length > 0 ? ` approved so far by ${a.approvals.join(', ')};` : ''
    return `${a.id}  ${a.requester.sub} (${a.requester.provider}) wants ${a.policy} [${grant}];${reason}${so} expires ${a.expires_at}`
  })
}

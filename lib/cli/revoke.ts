import { parseArgs } from 'node:util'
import * as z from 'zod'
import { discoverEndpoint } from '../client/discover-endpoint.js'
import { UsageError } from '../errors.js'
import { readTokenArg } from './token-arg.js'

const TIMEOUT_MS = 10_000

const USAGE =
  'usage: tessera revoke --url U --admin-token T|@file (--token T [--app A] | --sub S --provider P | --policy N) [--lift]'

const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() })

/** Where `runRevoke` writes and how it reaches the network (tests inject these). */
export interface RevokeIo {
  readonly fetch: typeof globalThis.fetch
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

const defaultIo: RevokeIo = {
  fetch: (...args) => globalThis.fetch(...args),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

/**
 * `tessera revoke`: calls the broker's `/revoke` (found in its RFC 8414 metadata) with an admin
 * bearer token holding `tessera:revoke`. Exit codes: 0 done, 1 refused or unreachable, 2 usage.
 * Broker errors print as `<error>: <error_description>` on stderr; no token is ever printed.
 */
export async function runRevoke(argv: string[], io: RevokeIo = defaultIo): Promise<number> {
  let form: URLSearchParams
  let url: string
  let adminToken: string
  try {
    ;({ form, url, adminToken } = await parseRevokeArgs(argv))
  } catch (e) {
    // Bad flags, an unreadable @file, an empty token: all usage errors.
    io.err(`tessera revoke: ${e instanceof Error ? e.message : String(e)}`)
    if (e instanceof UsageError || (e instanceof Error && 'code' in e)) io.err(USAGE)
    return 2
  }
  try {
    const endpoint = await discoverEndpoint(url, 'revocation_endpoint', io.fetch)
    const res = await io.fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    })
    const body: unknown = await res.json().catch(() => undefined)
    if (!res.ok) {
      const e = ErrorSchema.safeParse(body)
      io.err(
        e.success ? `${e.data.error}: ${e.data.error_description ?? ''}` : `http_error: HTTP ${res.status}`,
      )
      return 1
    }
    io.out(describeResult(body))
    return 0
  } catch (e) {
    io.err(`tessera revoke: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

async function parseRevokeArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      token: { type: 'string' },
      // The GitHub App whose installation token `--token` is (needed when several are configured).
      app: { type: 'string' },
      sub: { type: 'string' },
      provider: { type: 'string' },
      policy: { type: 'string' },
      lift: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  })
  const url = values.url ?? process.env.TESSERA_URL
  if (!url) throw new UsageError('--url is required (the broker base URL)')
  if (!values['admin-token']) throw new UsageError('--admin-token is required (a token or @file)')
  const form = new URLSearchParams()
  const chosen = [values.token, values.sub ?? values.provider, values.policy].filter((v) => v !== undefined)
  if (chosen.length !== 1)
    throw new UsageError('give exactly one of --token, --sub with --provider, or --policy')
  if (values.token !== undefined) form.set('token', await readTokenArg(values.token))
  else if (values.policy !== undefined) form.set('policy', values.policy)
  else {
    if (!values.sub || !values.provider) throw new UsageError('--sub and --provider go together')
    form.set('sub', values.sub)
    form.set('provider', values.provider)
  }
  if (values.app !== undefined) {
    if (values.token === undefined)
      throw new UsageError('--app goes with --token (a GitHub installation token)')
    form.set('app', values.app)
  }
  if (values.lift) form.set('lift', 'true')
  return { form, url, adminToken: await readTokenArg(values['admin-token']) }
}

function describeResult(body: unknown): string {
  const r = z.looseObject({ status: z.string(), target: z.string() }).safeParse(body)
  if (!r.success) return 'done'
  const { status, target, ...rest } = r.data
  if (status === 'ignored')
    return 'ignored: the broker does not recognise that token as one of its unexpired tokens'
  const what =
    target === 'github_installation_token'
      ? `GitHub installation token (app ${String(rest.app)})`
      : target === 'token'
        ? `token ${String(rest.jti)}`
        : target === 'subject'
          ? `subject ${String(rest.sub)} (provider ${String(rest.provider)})`
          : `policy ${String(rest.policy)}`
  return `${status}: ${what}`
}

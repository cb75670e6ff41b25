import * as z from 'zod'
import { discoverEndpoint } from '../client/discover-endpoint.js'
import { fetchBroker } from '../client/reach-broker.js'
import { UsageError } from '../errors.js'
import { defineCommand } from './command.js'
import { ADMIN_TOKEN_FLAG, URL_FLAG } from './common-flags.js'
import { readTokenArg } from './token-arg.js'

const TIMEOUT_MS = 10_000

const ErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() })

/**
 * `tessera revoke`: calls the broker's `/revoke` (found in its RFC 8414 metadata) with an admin
 * bearer token holding `tessera:revoke`. Broker errors print as `<error>: <error_description>` on
 * stderr; no token is ever printed.
 */
export const revokeCommand = defineCommand({
  name: 'revoke',
  summary: 'revoke one token, or everything issued to a subject or by a policy before now',
  synopsis:
    '--url U --admin-token T|@file (--token T [--app A] | --sub S --provider P | --policy N) [--lift]',
  flags: {
    // No local default here: revoking at the wrong broker would look like success.
    url: { ...URL_FLAG, help: 'the broker base URL (default TESSERA_URL; required)' },
    'admin-token': ADMIN_TOKEN_FLAG,
    token: {
      type: 'string',
      value: 'T|@file|-',
      help: 'the token to revoke: a Tessera token, or a GitHub installation token (ghs_...)',
    },
    app: {
      type: 'string',
      value: 'A',
      help: 'the GitHub App that issued --token (needed when several are configured)',
    },
    sub: { type: 'string', value: 'S', help: 'revoke what was issued to this subject (with --provider)' },
    provider: { type: 'string', value: 'P', help: 'the provider of --sub' },
    policy: { type: 'string', value: 'N', help: 'revoke what this policy issued' },
    lift: { type: 'boolean', default: false, help: 'lift an earlier revocation with the same target' },
  },
  examples: [
    'tessera revoke --url https://sts.example.com --admin-token @admin.jwt --token @leaked.jwt',
    'tessera revoke --url https://sts.example.com --admin-token @admin.jwt --sub repo:acme/app:ref:refs/heads/main --provider github-actions',
    'tessera revoke --url https://sts.example.com --admin-token @admin.jwt --policy deploy-app --lift',
  ],
  async run({ values }, io) {
    const url = values.url ?? io.env.TESSERA_URL
    if (!url) throw new UsageError('--url is required (the broker base URL)')
    if (!values['admin-token']) throw new UsageError('--admin-token is required (a token or @file)')
    const chosen = [values.token, values.sub ?? values.provider, values.policy].filter((v) => v !== undefined)
    if (chosen.length !== 1)
      throw new UsageError('give exactly one of --token, --sub with --provider, or --policy')
    const form = new URLSearchParams()
    if (values.token !== undefined) form.set('token', await readTokenArg(values.token, io.stdin))
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
    const adminToken = await readTokenArg(values['admin-token'], io.stdin)
    const endpoint = await discoverEndpoint(url, 'revocation_endpoint', io.fetch)
    const res = await fetchBroker(
      endpoint,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'error',
      },
      io.fetch,
    )
    const body: unknown = await res.json().catch(() => undefined)
    if (!res.ok) {
      const e = ErrorSchema.safeParse(body)
      io.stderr.write(
        `${e.success ? `${e.data.error}: ${e.data.error_description ?? ''}` : `http_error: HTTP ${res.status}`}\n`,
      )
      return 1
    }
    io.stdout.write(`${describeResult(body)}\n`)
    return 0
  },
})

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

import { TokenTypes } from '../assertion/token-types.js'
import { awaitApproval, pendingOf } from '../client/approval-wait.js'
import { formatCredentialProcess, formatEnv, parseAwsCredentialsOutput } from '../client/aws-output.js'
import { discoverEndpoint } from '../client/discover-endpoint.js'
import { type ExchangeParams, requestExchange } from '../client/exchange.js'
import {
  formatGitCredential,
  formatGithubEnv,
  GIT_CREDENTIAL_ACTIONS,
  isGithubTokenOutput,
  parseGithubTokenOutput,
} from '../client/github-output.js'
import { ApprovalNotAwaited, UsageError } from '../errors.js'
import { defineCommand } from './command.js'
import { brokerUrl, URL_FLAG } from './common-flags.js'
import { readTokenArg } from './token-arg.js'

const FORMATS = ['json', 'token', 'env', 'credential-process', 'git-credential'] as const
type Format = (typeof FORMATS)[number]
const CLOUDS = ['aws', 'azure', 'gcp'] as const

/** `tessera exchange`: the client side of the exchange; prints the credential, never writes it to disk. */
export const exchangeCommand = defineCommand({
  name: 'exchange',
  summary: 'trade a workload identity for a credential at a broker (RFC 8693)',
  synopsis:
    '[--url U] (--token T|@file|- | --aws-iam | --instance aws|azure|gcp) (--audience A | --resource R) [--scope S] [--format json|token|env|credential-process|git-credential] [--dpop-key F] [--actor-token T|@file|-] [--reason R] [--no-wait]',
  // git runs a credential helper with its action (get, store, erase) as the last argument.
  positionals: ['ACTION'],
  flags: {
    url: URL_FLAG,
    token: {
      type: 'string',
      value: 'T|@file|-',
      help: 'the subject token, a file holding it, or - for stdin',
    },
    'token-type': {
      type: 'string',
      default: TokenTypes.jwt,
      value: 'URI',
      help: 'subject_token_type of --token',
    },
    'aws-iam': {
      type: 'boolean',
      default: false,
      help: 'sign sts:GetCallerIdentity with the AWS credentials of this process',
    },
    'server-id': {
      type: 'string',
      value: 'ID',
      help: 'X-Tessera-Server-ID to sign (aws-iam, presence proof)',
    },
    region: { type: 'string', value: 'R', help: 'AWS region for the signed request' },
    instance: { type: 'string', value: 'CLOUD', help: 'the instance identity of this VM: aws, azure or gcp' },
    'caller-identity': {
      type: 'boolean',
      default: false,
      help: 'with --instance aws: add the instance-profile presence proof',
    },
    audience: { type: 'string', multiple: true, default: [], value: 'A', help: 'selects a token grant' },
    resource: { type: 'string', multiple: true, default: [], value: 'R', help: 'selects e.g. an AWS role' },
    scope: { type: 'string', value: 'S', help: 'space-separated scopes (default: all the grant offers)' },
    'requested-token-type': { type: 'string', value: 'URI', help: 'requested_token_type to send' },
    'dpop-key': {
      type: 'string',
      value: 'F',
      help: 'bind the token to this private JWK with a DPoP proof (created 0600 if absent)',
    },
    'actor-token': {
      type: 'string',
      value: 'T|@file|-',
      help: "delegation: the acting agent's token (RFC 8693 actor_token, a JWT)",
    },
    reason: { type: 'string', value: 'R', help: 'why, shown to approvers when the grant needs approval' },
    'no-wait': {
      type: 'boolean',
      default: false,
      help: 'do not wait for approval: print the auth_req_id JSON and exit 3',
    },
    format: {
      type: 'string',
      default: 'json',
      value: 'F',
      help: `output: ${FORMATS.join(', ')} (env: AWS_* or GH_TOKEN lines; git-credential: a git credential helper)`,
    },
  },
  examples: [
    'tessera dev-token --sub repo:acme/app:ref:refs/heads/main | tessera exchange --token - --audience https://api.example.com',
    'tessera exchange --url https://sts.example.com --token @$TOKEN_FILE --audience https://api.example.com --format token',
    'tessera exchange --url https://sts.example.com --aws-iam --resource arn:aws:iam::111122223333:role/deploy --format env',
    'git config credential.https://github.com.helper "!tessera exchange --url https://sts.example.com --token @$TOKEN_FILE --resource https://github.com/acme --format git-credential"',
  ],
  notes:
    'On a refusal, <error>: <error_description> from the broker goes to stderr and the exit code is 1.\n' +
    'The grant is chosen by --audience / --resource, never by --format.\n' +
    'A grant that needs human approval is waited on (one line on stderr says until when); with\n' +
    '--no-wait the auth_req_id JSON is printed and the exit code is 3.',
  async run({ values, positionals }, io) {
    const format = values.format as Format
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`)
    // git only stores or erases: nothing to exchange, nothing to print.
    if (gitCredentialAction(positionals, format) !== 'get') return 0
    const sources = [values.token !== undefined, values['aws-iam'], values.instance !== undefined].filter(
      Boolean,
    )
    if (sources.length !== 1)
      throw new UsageError(
        'give exactly one of --token (a token, @file, or - for stdin), --aws-iam or --instance',
      )
    if (values['caller-identity'] && values.instance !== 'aws')
      throw new UsageError('--caller-identity goes with --instance aws (the EC2 presence proof)')
    if (values.instance !== undefined && !CLOUDS.includes(values.instance as (typeof CLOUDS)[number]))
      throw new UsageError(`--instance must be one of ${CLOUDS.join(', ')}`)
    if (values.audience.length === 0 && values.resource.length === 0)
      throw new UsageError('--audience or --resource is required')
    const url = brokerUrl(values.url, io.env)
    // Flag conflicts are refused before anything reads stdin or asks a metadata service.
    const delegated = await delegation(values, io.stdin)
    const presented = await subject({ ...values, url }, io.stdin)
    const params: ExchangeParams = {
      ...presented,
      ...delegated,
      extra: { ...presented.extra, ...delegated.extra },
      audiences: values.audience,
      resources: values.resource,
      scope: values.scope,
      requestedTokenType: values['requested-token-type'],
    }
    const endpoint = await discoverEndpoint(url, 'token_endpoint', io.fetch)
    const dpop = values['dpop-key']
    const proof = dpop === undefined ? undefined : () => tokenProof(dpop, endpoint)
    let body: Record<string, unknown>
    try {
      body = await exchangeOrWait(endpoint, params, values['no-wait'], proof, io)
    } catch (err) {
      if (!(err instanceof ApprovalNotAwaited)) throw err
      io.stdout.write(`${err.json}\n`)
      return 3
    }
    io.stdout.write(`${formatResult(body, format)}\n`)
    return 0
  },
})

/** The exchange; a grant held for approval is waited on (polling), or with --no-wait handed back. */
async function exchangeOrWait(
  endpoint: string,
  params: ExchangeParams,
  noWait: boolean,
  dpopProof: (() => Promise<string>) | undefined,
  io: { readonly stderr: { write(text: string): unknown }; readonly fetch: typeof globalThis.fetch },
): Promise<Record<string, unknown>> {
  try {
    return await requestExchange(endpoint, { ...params, dpopProof: await dpopProof?.() }, io.fetch)
  } catch (err) {
    const pending = pendingOf(err)
    if (!pending) throw err
    if (noWait) throw new ApprovalNotAwaited(pending)
    const notify = (line: string) => io.stderr.write(`${line}\n`)
    return awaitApproval(endpoint, pending, { notify, dpopProof, fetch: io.fetch })
  }
}

/** `--actor-token` (delegation, RFC 8693) and `--reason` (shown to approvers). */
async function delegation(
  values: {
    token?: string | undefined
    instance?: string | undefined
    'actor-token'?: string | undefined
    reason?: string | undefined
  },
  stdin: NodeJS.ReadableStream,
): Promise<Pick<ExchangeParams, 'actorToken' | 'actorTokenType' | 'extra'>> {
  const reason = values.reason === undefined ? {} : { extra: { reason: values.reason } }
  const actor = values['actor-token']
  if (actor === undefined) return reason
  if (values.instance !== undefined) throw new UsageError('--actor-token cannot be combined with --instance')
  if (actor === '-' && values.token === '-')
    throw new UsageError('only one of --token and --actor-token may read stdin')
  return { ...reason, actorToken: await readTokenArg(actor, stdin), actorTokenType: TokenTypes.jwt }
}

/** The git credential-helper action (`get` unless git said otherwise); other formats take no argument. */
function gitCredentialAction(positionals: readonly string[], format: Format): string {
  if (positionals.length === 0) return 'get'
  const [action] = positionals
  if (format !== 'git-credential' || !GIT_CREDENTIAL_ACTIONS.includes(action as 'get'))
    throw new UsageError(`unexpected argument ${positionals.join(' ').slice(0, 80)}`)
  return action as string
}

/** A DPoP proof for the token endpoint with the key in `file` (a private JWK, created 0600 if absent). */
async function tokenProof(file: string, tokenEndpoint: string): Promise<string> {
  const { createDpopProof, loadOrCreateDpopKey } = await import('../client/dpop.js')
  return createDpopProof(await loadOrCreateDpopKey(file), { method: 'POST', url: tokenEndpoint })
}

async function subject(
  values: {
    url: string
    token?: string | undefined
    'token-type': string
    'aws-iam': boolean
    'server-id'?: string | undefined
    region?: string | undefined
    instance?: string | undefined
    'caller-identity': boolean
  },
  stdin: NodeJS.ReadableStream,
): Promise<
  Pick<ExchangeParams, 'subjectToken' | 'subjectTokenType' | 'actorToken' | 'actorTokenType' | 'extra'>
> {
  if (values['aws-iam']) {
    const { signedCallerIdentityToken } = await import('../client/aws-sigv4.js')
    const token = await signedCallerIdentityToken({
      ...(values['server-id'] ? { serverId: values['server-id'] } : {}),
      ...(values.region ? { region: values.region } : {}),
    })
    return { subjectToken: token, subjectTokenType: TokenTypes.awsSigv4 }
  }
  if (values.instance !== undefined) {
    const cloud = values.instance as (typeof CLOUDS)[number]
    const { instanceAssertion } = await import('../client/instance.js')
    // A GCP identity token is always requested for the broker itself (its issuer, `--url`), never
    // for the downstream `--audience`: a token minted for an API must not be exchangeable here.
    const a = await instanceAssertion(cloud, {
      brokerUrl: values.url,
      // Presence proof: the instance-profile credentials sign GetCallerIdentity (with --server-id).
      ...(values['caller-identity']
        ? {
            callerIdentity: true,
            ...(values['server-id'] ? { serverId: values['server-id'] } : {}),
            ...(values.region ? { region: values.region } : {}),
          }
        : {}),
    })
    return a
  }
  return {
    subjectToken: await readTokenArg(values.token as string, stdin),
    subjectTokenType: values['token-type'],
  }
}

/** Renders a successful exchange response in the requested format. */
export function formatResult(body: Record<string, unknown>, format: Format): string {
  switch (format) {
    case 'token':
      if (typeof body.access_token !== 'string' || body.access_token === '')
        throw new Error(
          'the broker answered without an access token (use --format json, env or credential-process)',
        )
      return body.access_token
    case 'json':
      return JSON.stringify(body, null, 2)
    case 'env':
      if (isGithubTokenOutput(body)) return formatGithubEnv(parseGithubTokenOutput(body)).trimEnd()
      return formatEnv(parseAwsCredentialsOutput(body)).trimEnd()
    case 'git-credential':
      return formatGitCredential(parseGithubTokenOutput(body)).trimEnd()
    case 'credential-process':
      return formatCredentialProcess(parseAwsCredentialsOutput(body))
  }
}

import { TokenTypes } from '../assertion/token-types.js'
import { formatCredentialProcess, formatEnv, parseAwsCredentialsOutput } from '../client/aws-output.js'
import { discoverEndpoint } from '../client/discover-endpoint.js'
import { type ExchangeParams, requestExchange } from '../client/exchange.js'
import { UsageError } from '../errors.js'
import { defineCommand } from './command.js'
import { brokerUrl, URL_FLAG } from './common-flags.js'
import { readTokenArg } from './token-arg.js'

const FORMATS = ['json', 'token', 'env', 'credential-process'] as const
type Format = (typeof FORMATS)[number]
const CLOUDS = ['aws', 'azure', 'gcp'] as const

/** `tessera exchange`: the client side of the exchange; prints the credential, never writes it to disk. */
export const exchangeCommand = defineCommand({
  name: 'exchange',
  summary: 'trade a workload identity for a credential at a broker (RFC 8693)',
  synopsis:
    '[--url U] (--token T|@file|- | --aws-iam | --instance aws|azure|gcp) (--audience A | --resource R) [--scope S] [--format json|token|env|credential-process] [--dpop-key F]',
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
    format: {
      type: 'string',
      default: 'json',
      value: 'F',
      help: `output: ${FORMATS.join(', ')} (env and credential-process for AWS credentials)`,
    },
  },
  examples: [
    'tessera dev-token --sub repo:acme/app:ref:refs/heads/main | tessera exchange --token - --audience https://api.example.com',
    'tessera exchange --url https://sts.example.com --token @$TOKEN_FILE --audience https://api.example.com --format token',
    'tessera exchange --url https://sts.example.com --aws-iam --resource arn:aws:iam::111122223333:role/deploy --format env',
  ],
  notes:
    'On a refusal, <error>: <error_description> from the broker goes to stderr and the exit code is 1.\n' +
    'The grant is chosen by --audience / --resource, never by --format.',
  async run({ values }, io) {
    const format = values.format as Format
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`)
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
    const params: ExchangeParams = {
      ...(await subject({ ...values, url }, io.stdin)),
      audiences: values.audience,
      resources: values.resource,
      scope: values.scope,
      requestedTokenType: values['requested-token-type'],
    }
    const endpoint = await discoverEndpoint(url, 'token_endpoint', io.fetch)
    const dpopProof =
      values['dpop-key'] === undefined ? undefined : await tokenProof(values['dpop-key'], endpoint)
    io.stdout.write(
      `${formatResult(await requestExchange(endpoint, { ...params, dpopProof }, io.fetch), format)}\n`,
    )
    return 0
  },
})

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
      return formatEnv(parseAwsCredentialsOutput(body)).trimEnd()
    case 'credential-process':
      return formatCredentialProcess(parseAwsCredentialsOutput(body))
  }
}

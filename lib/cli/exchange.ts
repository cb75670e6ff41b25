import { parseArgs } from 'node:util'
import { TokenTypes } from '../assertion/token-types.js'
import { formatCredentialProcess, formatEnv, parseAwsCredentialsOutput } from '../client/aws-output.js'
import { discoverEndpoint } from '../client/discover-endpoint.js'
import { type ExchangeParams, requestExchange } from '../client/exchange.js'
import { readTokenArg } from './token-arg.js'

const FORMATS = ['json', 'token', 'env', 'credential-process'] as const
type Format = (typeof FORMATS)[number]
const CLOUDS = ['aws', 'azure', 'gcp'] as const

/**
 * `tessera exchange --url U (--token T|@file|- | --aws-iam | --instance aws|azure|gcp [--caller-identity])
 *  (--audience A | --resource R) [--scope S] [--format …] [--dpop-key F]`.
 * Returns what to print on stdout; never writes credentials to disk.
 */
export async function runExchange(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: process.env.TESSERA_URL ?? 'http://127.0.0.1:8787' },
      token: { type: 'string' },
      'token-type': { type: 'string', default: TokenTypes.jwt },
      'aws-iam': { type: 'boolean', default: false },
      'server-id': { type: 'string' },
      region: { type: 'string' },
      instance: { type: 'string' },
      'caller-identity': { type: 'boolean', default: false },
      audience: { type: 'string', multiple: true, default: [] },
      resource: { type: 'string', multiple: true, default: [] },
      scope: { type: 'string' },
      'requested-token-type': { type: 'string' },
      format: { type: 'string', default: 'json' },
      'dpop-key': { type: 'string' },
    },
    strict: true,
  })
  const format = values.format as Format
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`)
  const sources = [values.token !== undefined, values['aws-iam'], values.instance !== undefined].filter(
    Boolean,
  )
  if (sources.length !== 1)
    throw new Error('give exactly one of --token (a token, @file, or - for stdin), --aws-iam or --instance')
  if (values['caller-identity'] && values.instance !== 'aws')
    throw new Error('--caller-identity goes with --instance aws (the EC2 presence proof)')
  if (values.audience.length === 0 && values.resource.length === 0)
    throw new Error('--audience or --resource is required')
  const wantsAws = format === 'env' || format === 'credential-process'
  const params: ExchangeParams = {
    ...(await subject(values)),
    audiences: values.audience,
    resources: values.resource,
    scope: values.scope,
    requestedTokenType: values['requested-token-type'] ?? (wantsAws ? TokenTypes.awsCredentials : undefined),
  }
  const endpoint = await discoverEndpoint(values.url, 'token_endpoint')
  const dpopProof =
    values['dpop-key'] === undefined ? undefined : await tokenProof(values['dpop-key'], endpoint)
  return formatResult(await requestExchange(endpoint, { ...params, dpopProof }), format)
}

/** A DPoP proof for the token endpoint with the key in `file` (a private JWK, created 0600 if absent). */
async function tokenProof(file: string, tokenEndpoint: string): Promise<string> {
  const { createDpopProof, loadOrCreateDpopKey } = await import('../client/dpop.js')
  return createDpopProof(await loadOrCreateDpopKey(file), { method: 'POST', url: tokenEndpoint })
}

async function subject(values: {
  url: string
  token?: string | undefined
  'token-type': string
  'aws-iam': boolean
  'server-id'?: string | undefined
  region?: string | undefined
  instance?: string | undefined
  'caller-identity': boolean
}): Promise<
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
    if (!CLOUDS.includes(cloud)) throw new Error(`--instance must be one of ${CLOUDS.join(', ')}`)
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
  return { subjectToken: await readTokenArg(values.token as string), subjectTokenType: values['token-type'] }
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

import { parseArgs } from 'node:util'
import { TokenTypes } from '../assertion/token-types.js'
import { discoverTokenEndpoint, type ExchangeParams, requestExchange } from '../client/exchange.js'
import { readTokenArg } from './token-arg.js'

const FORMATS = ['json', 'token', 'env', 'credential-process'] as const
type Format = (typeof FORMATS)[number]

/**
 * `tessera exchange --url U --token T|@file|- (--audience A | --resource R) [--scope S] [--format …]`.
 * Prints the result to stdout; never writes credentials to disk.
 */
export async function runExchange(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: process.env.TESSERA_URL ?? 'http://127.0.0.1:8787' },
      token: { type: 'string' },
      'token-type': { type: 'string', default: TokenTypes.jwt },
      audience: { type: 'string', multiple: true, default: [] },
      resource: { type: 'string', multiple: true, default: [] },
      scope: { type: 'string' },
      'requested-token-type': { type: 'string' },
      format: { type: 'string', default: 'json' },
    },
    strict: true,
  })
  const format = values.format as Format
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`)
  if (!values.token) throw new Error('--token is required (a token, @file, or - for stdin)')
  if (values.audience.length === 0 && values.resource.length === 0)
    throw new Error('--audience or --resource is required')
  const params: ExchangeParams = {
    subjectToken: await readTokenArg(values.token),
    subjectTokenType: values['token-type'],
    audiences: values.audience,
    resources: values.resource,
    scope: values.scope,
    requestedTokenType:
      values['requested-token-type'] ??
      (format === 'env' || format === 'credential-process' ? TokenTypes.awsCredentials : undefined),
  }
  const endpoint = await discoverTokenEndpoint(values.url)
  const body = await requestExchange(endpoint, params)
  return formatResult(body, format)
}

/** Renders a successful exchange response in the requested format. */
export function formatResult(body: Record<string, unknown>, format: Format): string {
  switch (format) {
    case 'token':
      return String(body.access_token)
    case 'json':
      return JSON.stringify(body, null, 2)
    default:
      throw new Error(`--format ${format} needs AWS credentials support`)
  }
}

import { parseArgs } from 'node:util'
import { createDpopProof, loadOrCreateDpopKey } from '../client/dpop.js'
import { UsageError } from '../errors.js'
import { defineCommand } from './command.js'
import { readTokenArg } from './token-arg.js'

/**
 * `tessera dpop-proof --key F --method M --url U [--token T|@file|-]`: prints a DPoP proof (RFC 9449)
 * for one request to an API, made with the key of `tessera exchange --dpop-key F`; with `--token`
 * it carries the hash of that access token (`ath`), as resource requests need.
 */
export async function runDpopProof(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      key: { type: 'string' },
      method: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
    strict: true,
  })
  if (values.key === undefined || values.method === undefined || values.url === undefined)
    throw new Error('--key, --method and --url are required')
  if (!/^[A-Za-z]+$/.test(values.method)) throw new Error('--method must be an HTTP method such as GET')
  const accessToken = values.token === undefined ? undefined : await readTokenArg(values.token)
  return createDpopProof(await loadOrCreateDpopKey(values.key), {
    method: values.method,
    url: values.url,
    accessToken,
  })
}

/** The `dpop-proof` command spec around runDpopProof. */
export const dpopProofCommand = defineCommand({
  name: 'dpop-proof',
  summary: 'print a DPoP proof (RFC 9449) for one API request, with the key of exchange --dpop-key',
  synopsis: '--key F --method M --url U [--token T|@file|-]',
  flags: {
    key: { type: 'string', value: 'F', help: 'the private JWK (created 0600 if absent)' },
    method: { type: 'string', value: 'M', help: 'the HTTP method of the request, e.g. GET' },
    url: { type: 'string', value: 'U', help: 'the URL of the request' },
    token: { type: 'string', value: 'T|@file|-', help: 'the access token it goes with (adds ath)' },
  },
  examples: [
    'tessera dpop-proof --key dpop.jwk --method GET --url https://api.example.com/orders --token @token.jwt',
  ],
  async run({ values }, io) {
    if (values.key === undefined || values.method === undefined || values.url === undefined)
      throw new UsageError('--key, --method and --url are required')
    const argv = ['--key', values.key, '--method', values.method, '--url', values.url]
    if (values.token !== undefined) argv.push('--token', values.token)
    io.stdout.write(`${await runDpopProof(argv)}\n`)
    return 0
  },
})

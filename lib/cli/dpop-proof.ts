import { parseArgs } from 'node:util'
import { createDpopProof, loadOrCreateDpopKey } from '../client/dpop.js'
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

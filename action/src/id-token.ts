import * as z from 'zod'
import { isLoopbackHost } from '../../lib/config/url.js'
import { ExchangeFailed } from '../../lib/errors.js'

const TIMEOUT_MS = 10_000

// GitHub's answer also carries other members (`count`); only `value` is relied on.
const IdTokenResponseSchema = z.object({ value: z.string().regex(/^[\w-]+\.[\w-]+\.[\w-]+$/) })

/** Without these two variables the job was not granted `permissions: id-token: write`. */
export const NO_PERMISSION =
  'ACTIONS_ID_TOKEN_REQUEST_URL is not set: the job needs `permissions: id-token: write` to request its OIDC token'

/** Requests the job's OIDC token for `audience` from the Actions runtime. */
export async function requestIdToken(
  env: NodeJS.ProcessEnv,
  audience: string,
  fetchImpl: typeof globalThis.fetch = globalThis.fetch,
): Promise<string> {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!requestUrl || !requestToken) throw new ExchangeFailed('id_token_unavailable', NO_PERMISSION, 0)
  let url: URL
  try {
    url = new URL(requestUrl)
  } catch {
    throw new ExchangeFailed('id_token_unavailable', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', 0)
  }
  // The request token is a credential: never send it in clear text off the machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    throw new ExchangeFailed('id_token_unavailable', 'ACTIONS_ID_TOKEN_REQUEST_URL must use https', 0)
  url.searchParams.set('audience', audience)
  let res: Response
  try {
    res = await fetchImpl(url, {
      headers: { authorization: `bearer ${requestToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    })
  } catch (err) {
    throw new ExchangeFailed(
      'id_token_request_failed',
      `the Actions runtime did not answer (${describe(err)})`,
      0,
    )
  }
  if (!res.ok)
    throw new ExchangeFailed(
      'id_token_request_failed',
      `the Actions runtime answered HTTP ${res.status}`,
      res.status,
    )
  const parsed = IdTokenResponseSchema.safeParse(await res.json().catch(() => undefined))
  if (!parsed.success)
    throw new ExchangeFailed(
      'id_token_request_failed',
      'the Actions runtime answered without a token',
      res.status,
    )
  return parsed.data.value
}

function describe(err: unknown): string {
  return err instanceof Error ? err.name : 'error'
}

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brokerConfigText, exchangeBody, type SubjectIssuer } from './fixtures.js'
import { LOAD_SECONDS, type LoadResult, runLoad, type ServerChild, startServerChild } from './load.js'
import { mintTokens } from './mint-pool.js'

/** Subject tokens live long enough to outlast minting and every phase that uses them. */
export const HTTP_TOKEN_TTL = 600

/** `tessera serve` exactly as a user runs it (default logger audit sink, stdout to /dev/null). */
export async function startTessera(issuer: SubjectIssuer, dir: string): Promise<ServerChild> {
  const config = join(dir, 'tessera.yaml')
  writeFileSync(
    config,
    brokerConfigText({ issuer, keyPath: join(dir, 'signing-key.json'), policies: 1, providers: 1 }),
  )
  const bin = new URL('../bin/tessera.js', import.meta.url).pathname
  return startServerChild([bin, 'serve', '--config', config, '--port', '0'])
}

/** Fresh, never-used exchange bodies (the server has replay protection on). */
export async function freshBodies(issuer: SubjectIssuer, count: number): Promise<string[]> {
  return (await mintTokens(issuer.spec(HTTP_TOKEN_TTL), count)).map(exchangeBody)
}

/** Warms the server (JIT, JWKS cache) for `seconds` and returns its rate, failing on any non-2xx. */
export async function warmUp(server: ServerChild, issuer: SubjectIssuer, seconds: number): Promise<number> {
  const bodies = await freshBodies(issuer, 6000)
  const warm = await runLoad({ url: server.url, path: '/token', bodies, seconds })
  if (warm.non2xx > 0 || warm.errors > 0 || warm.bodiesUsed > bodies.length) {
    throw new Error(`tessera warm-up: ${warm.non2xx} non-2xx, ${warm.errors} errors`)
  }
  return warm.perSecond
}

/** One timed phase (LOAD_SECONDS unless told) with `bodies`, each a distinct subject token. */
export function loadTessera(
  server: ServerChild,
  bodies: readonly string[],
  opts: { seconds?: number; overallRate?: number } = {},
): Promise<LoadResult> {
  return runLoad({
    url: server.url,
    path: '/token',
    bodies,
    seconds: opts.seconds ?? LOAD_SECONDS,
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  })
}

import { generateKeyPairSync } from 'node:crypto'
import { SCOPE, TARGET } from './fixtures.js'
import { LOAD_SECONDS, type LoadResult, runLoad, startServerChild } from './load.js'
import { mintTokens } from './mint-pool.js'

const CLIENT_ID = 'bench-client'
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** oidc-provider under the same load: each request a distinct RS256 client assertion (distinct jti). */
export async function runPeerPhase(opts: {
  /** Pool size for the timed run: comfortably more than the peer can serve in LOAD_SECONDS. */
  poolFor: (warmPerSecond: number) => number
  log: (line: string) => void
}): Promise<LoadResult & { warmPerSecond: number }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-client-key', alg: 'RS256', use: 'sig' }
  const script = new URL('./peer-server.ts', import.meta.url).pathname
  const peer = await startServerChild([script], { env: { BENCH_CLIENT_JWK: JSON.stringify(jwk) } })
  try {
    const spec = {
      privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      kid: 'bench-client-key',
      ttl: 300,
      claims: { iss: CLIENT_ID, sub: CLIENT_ID, aud: peer.url },
    }
    const body = (assertion: string) =>
      `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}` +
      `&client_assertion=${assertion}&resource=${encodeURIComponent(TARGET)}&scope=${encodeURIComponent(SCOPE)}`
    const warmBodies = (await mintTokens(spec, 3000)).map(body)
    const warm = await runLoad({ url: peer.url, path: '/token', bodies: warmBodies, seconds: 1 })
    if (warm.non2xx > 0 || warm.errors > 0)
      throw new Error(`peer warm-up: ${warm.non2xx} non-2xx, ${warm.errors} errors`)
    const pool = opts.poolFor(warm.perSecond)
    opts.log(`peer: warm ${warm.perSecond.toFixed(0)}/s; minting ${pool} client assertions`)
    const bodies = (await mintTokens(spec, pool)).map(body)
    const result = await runLoad({ url: peer.url, path: '/token', bodies, seconds: LOAD_SECONDS })
    return { ...result, warmPerSecond: warm.perSecond }
  } finally {
    await peer.stop()
  }
}

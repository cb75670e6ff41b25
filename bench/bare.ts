import { exchangeBody } from './fixtures.js'
import { LOAD_SECONDS, type LoadResult, runLoad, startServerChild } from './load.js'

/** The bare node:http server (bench/bare-server.ts) under the same load, with real exchange bodies. */
export async function runBarePhase(tokens: readonly string[]): Promise<LoadResult> {
  const bare = await startServerChild([new URL('./bare-server.ts', import.meta.url).pathname])
  try {
    const bodies = tokens.map(exchangeBody)
    await runLoad({ url: bare.url, path: '/token', bodies, seconds: 1, reuseBodies: true })
    return await runLoad({ url: bare.url, path: '/token', bodies, seconds: LOAD_SECONDS, reuseBodies: true })
  } finally {
    await bare.stop()
  }
}

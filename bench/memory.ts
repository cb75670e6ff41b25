import type { SubjectIssuer } from './fixtures.js'
import { freshBodies, loadTessera } from './http.js'
import { LOAD_SECONDS, type LoadResult, type MemorySample, type ServerChild } from './load.js'

export interface MemoryResult {
  readonly afterHttp: MemorySample
  readonly afterA: MemorySample
  readonly afterB: MemorySample
  readonly phaseA: LoadResult
  readonly phaseB: LoadResult
  /** (rss after B - rss after A) / rss after A. */
  readonly rssGrowth: number
  /** Replay entries the server holds at the end: every successful exchange so far (tokens live 10 min). */
  readonly replayEntries: number
}

/** Bodies for one phase: the measured rate with headroom, never reused (replay protection is on). */
export function poolSize(perSecond: number, headroom: number): number {
  return Math.min(300_000, Math.ceil(perSecond * LOAD_SECONDS * headroom) + 1000)
}

/**
 * Two more loaded phases on the same `tessera serve` process after the HTTP phase, each with fresh
 * subject tokens, so the replay cache keeps growing; samples memory (after a full GC) after each.
 */
export async function runMemoryPhases(
  server: ServerChild,
  issuer: SubjectIssuer,
  opts: { afterHttp: MemorySample; perSecond: number; exchangesSoFar: number; log: (s: string) => void },
): Promise<MemoryResult> {
  const phase = async (name: string) => {
    const bodies = await freshBodies(issuer, poolSize(opts.perSecond, 1.6))
    opts.log(`memory ${name}: ${bodies.length} fresh subject tokens`)
    const result = await loadTessera(server, bodies)
    return { result, sample: await server.memory() }
  }
  const a = await phase('A')
  const b = await phase('B')
  return {
    afterHttp: opts.afterHttp,
    afterA: a.sample,
    afterB: b.sample,
    phaseA: a.result,
    phaseB: b.result,
    rssGrowth: (b.sample.rss - a.sample.rss) / a.sample.rss,
    replayEntries: opts.exchangesSoFar + a.result.ok + b.result.ok,
  }
}

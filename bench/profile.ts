// CPU profile of the in-process phase only: `npx tsx bench/profile.ts [count]`.
// Writes bench/results/inprocess.cpuprofile (open in Chrome DevTools) and prints the top self times.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSubjectIssuer } from './fixtures.js'
import { createBenchBroker, measureExchanges, requestsFor } from './inprocess.js'
import { mintTokens } from './mint-pool.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Self time per function, as a share of the non-idle samples. */
export function topSelfTimes(profile: Profile, limit: number): { share: number; where: string }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (!node || node.callFrame.functionName === '(idle)') return
    const dt = profile.timeDeltas[i] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  })
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([where, t]) => ({ share: t / total, where }))
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 8000)
  const issuer = await startSubjectIssuer()
  const dir = mkdtempSync(join(tmpdir(), 'tessera-profile-'))
  try {
    const tokens = await mintTokens(issuer.spec(900), count + 500)
    const broker = await createBenchBroker({
      issuer,
      keyPath: join(dir, 'key.json'),
      policies: 1,
      providers: 1,
    })
    const requests = requestsFor(tokens)
    await measureExchanges(broker, requests.slice(0, 500), 10_000)
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 100 })
    await session.post('Profiler.start')
    const result = await measureExchanges(broker, requests.slice(500), 30_000)
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    const out = join(import.meta.dirname, 'results', 'inprocess.cpuprofile')
    writeFileSync(out, JSON.stringify(profile))
    console.log(`${result.ops} exchanges, ${result.perSecond.toFixed(0)}/s; profile: ${out}`)
    for (const { share, where } of topSelfTimes(profile as unknown as Profile, 40))
      console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${where}`)
  } finally {
    await issuer.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()

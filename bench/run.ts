// `npm run bench`: every phase bounded in time, loopback only. Prints one table and writes
// bench/results/latest.json. See docs/performance.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Broker } from '../lib/broker.js'
import { exchangeToken } from '../lib/token/exchange.js'
import { type AwsPathResult, runAwsCriticalPath } from './aws-path.js'
import { runBarePhase } from './bare.js'
import { exchangeRequest, startSubjectIssuer } from './fixtures.js'
import { type FloorResult, runFloor } from './floor.js'
import { freshBodies, HTTP_TOKEN_TTL, loadTessera, startTessera, warmUp } from './http.js'
import { createBenchBroker, type InProcessResult, requestsFor, runInProcess } from './inprocess.js'
import { type Comparison, compareInterleaved, runLambdaPath } from './lambda-path.js'
import { CONNECTIONS, LOAD_SECONDS, type LoadResult, type MemorySample } from './load.js'
import { type MemoryResult, poolSize, runMemoryPhases } from './memory.js'
import { mintTokens } from './mint-pool.js'
import { runPeerPhase } from './peer.js'
import { runScaling, type ScalingPoint } from './scaling.js'
import { type Check, fmt, type Row, renderTable } from './table.js'

const IN_PROCESS_POOL = 14_000
const PACED_SECONDS = 5
const started = performance.now()
const log = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`)
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`

/** Phase names for `--only` (comma-separated); without it every phase runs. */
const PHASES = ['floor', 'inprocess', 'scaling', 'http', 'bare', 'peer', 'aws', 'lambda', 'usage'] as const
type Phase = (typeof PHASES)[number]

function selectedPhases(argv: readonly string[]): ReadonlySet<Phase> {
  const i = argv.indexOf('--only')
  if (i === -1) return new Set(PHASES)
  const names = (argv[i + 1] ?? '').split(',').filter(Boolean)
  const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n))
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--only takes a comma-separated list of: ${PHASES.join(', ')}`)
  return new Set(names as Phase[])
}

async function main(): Promise<void> {
  const only = selectedPhases(process.argv.slice(2))
  const machine = {
    cpus: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    memory: mb(totalmem()),
    node: process.version,
    loadBefore: loadavg().map((l) => Number(l.toFixed(2))),
  }
  log(
    `machine: ${machine.cpus} × ${machine.model}, ${machine.memory}, node ${machine.node}, load ${machine.loadBefore.join(' ')}`,
  )
  log(`phases: ${[...only].join(', ')}`)
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'))
  const issuer = await startSubjectIssuer()
  const results: Partial<Results> = {}
  try {
    log(`minting ${IN_PROCESS_POOL} RS256 subject tokens (distinct jti)`)
    const tokens = await mintTokens(issuer.spec(HTTP_TOKEN_TTL), IN_PROCESS_POOL)
    const requests = requestsFor(tokens)
    const shape = (name: string) => ({
      issuer,
      keyPath: join(dir, `${name}.json`),
      policies: 1,
      providers: 1,
    })

    if (only.has('floor')) {
      log('crypto floor')
      runFloor(tokens.slice(0, 1000), issuer.publicPem, 500)
      results.floor = runFloor(tokens, issuer.publicPem, 2500)
    }
    if (only.has('inprocess')) {
      log('in-process')
      const broker = await createBenchBroker(shape('inprocess'))
      results.inProcess = await runInProcess(broker, requests, { warm: 1500, maxMs: 2500 })
    }
    if (only.has('lambda')) {
      log('Lambda path: token handler (middy, API Gateway v2 event) vs bare core, interleaved')
      const broker = await createBenchBroker(shape('lambda'))
      results.lambda = await runLambdaPath(broker, tokens, { rounds: 6, perRound: 500, warm: 300 })
    }
    if (only.has('usage')) {
      log('usage records: in-process on vs off, interleaved')
      const off = await createBenchBroker(shape('usage-off'), { recordUsage: false })
      const on = await createBenchBroker(shape('usage-on'))
      const serve = (broker: Broker) => async (token: string) =>
        (await exchangeToken(broker, exchangeRequest(token))).status === 200
      results.usage = await compareInterleaved(tokens, serve(off), serve(on), {
        rounds: 6,
        perRound: 500,
        warm: 300,
      })
      on.usage?.stop()
    }
    if (only.has('aws')) {
      log('AWS critical path: KMS Sign 10 ms, DynamoDB 5 ms, sequential, replay on')
      results.aws = await runAwsCriticalPath(issuer, { exchanges: 400, warm: 40 })
    }
    if (only.has('scaling')) {
      log('scaling (policies, providers)')
      results.scaling = await runScaling(issuer, dir, requests, 500)
    }
    if (only.has('http')) {
      log('local HTTP: tessera serve')
      const server = await startTessera(issuer, dir)
      try {
        const warmRate = await warmUp(server, issuer, 2)
        // The warm-up runs cold (JIT, first JWKS fetch); the steady rate is higher, hence the headroom.
        // Never more than the single-threaded core could serve: one server process cannot outrun it.
        const ceiling = Math.min(warmRate * 3, (results.inProcess?.perCpuSecond ?? Infinity) * 1.2)
        const bodies = await freshBodies(issuer, poolSize(ceiling, 1.25))
        log(`http: warm ${fmt(warmRate)}/s; ${bodies.length} fresh subject tokens`)
        const http = await loadTessera(server, bodies)
        results.http = http
        const afterHttp = await server.memory()
        const pacedRate = http.perSecond / 2
        log(
          `http paced: ${CONNECTIONS} connections at ${fmt(pacedRate)}/s (half the maximum), ${PACED_SECONDS} s`,
        )
        const pacedBodies = await freshBodies(issuer, Math.ceil(pacedRate * PACED_SECONDS * 1.2) + 500)
        const paced = await loadTessera(server, pacedBodies, {
          seconds: PACED_SECONDS,
          overallRate: pacedRate,
        })
        results.paced = paced
        log(`memory (two more ${LOAD_SECONDS} s phases, replay cache growing)`)
        results.memory = await runMemoryPhases(server, issuer, {
          afterHttp,
          perSecond: http.perSecond,
          exchangesSoFar: http.ok + paced.ok + Math.round(warmRate * 2),
          log,
        })
      } finally {
        await server.stop()
      }
    }
    if (only.has('bare')) {
      log('bare node:http')
      results.bare = await runBarePhase(tokens.slice(0, 2000))
    }
    if (only.has('peer')) {
      log('peer: oidc-provider')
      results.peer = await runPeerPhase({ poolFor: (rate) => poolSize(rate, 3), log })
    }

    const summary = {
      machine: { ...machine, loadAfter: loadavg().map((l) => Number(l.toFixed(2))) },
      date: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      phases: [...only],
      ...results,
      jwksFetches: issuer.jwksHits(),
    }
    const { rows, checks } = summarise({ ...results, jwksFetches: summary.jwksFetches })
    const table = renderTable(rows, checks)
    process.stdout.write(`\n${table}\n\n`)
    const out = new URL('./results/', import.meta.url).pathname
    mkdirSync(out, { recursive: true })
    writeFileSync(
      join(out, 'latest.json'),
      `${JSON.stringify({ ...summary, rows, checks, table }, null, 2)}\n`,
    )
    log(`wrote bench/results/latest.json; load average now ${summary.machine.loadAfter.join(' ')}`)
  } finally {
    await issuer.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

type Results = {
  floor: FloorResult
  inProcess: InProcessResult
  http: LoadResult
  paced: LoadResult
  bare: LoadResult
  peer: LoadResult
  scaling: { policies: ScalingPoint[]; providers: ScalingPoint[] }
  memory: MemoryResult
  aws: AwsPathResult
  lambda: Comparison
  usage: Comparison
  jwksFetches: number
}

/** The table rows and headline checks of the phases that ran. */
function summarise(r: Partial<Results>): { rows: Row[]; checks: Check[] } {
  const load = `${CONNECTIONS} conn, ${LOAD_SECONDS} s`
  const loadRow = (phase: string, l: LoadResult, note: string): Row => ({
    phase,
    perSecond: l.perSecond,
    p50Ms: l.p50Ms,
    p99Ms: l.p99Ms,
    non2xx: l.non2xx + l.errors + l.timeouts,
    note: l.ranOut ? `${note}; token pool ran low, stopped at ${l.seconds} s` : note,
  })
  const scalingRow = (p: ScalingPoint): Row => ({
    phase: `scaling: ${p.policies} polic${p.policies === 1 ? 'y' : 'ies'}, ${p.providers} provider${p.providers === 1 ? '' : 's'}`,
    perSecond: p.perSecond,
    p99Ms: p.p99Ms,
    note: `${p.costUs.toFixed(0)} CPU µs/exchange`,
  })
  const memoryNote = (m: MemorySample) => `RSS ${mb(m.rss)}, heap ${mb(m.heapUsed)}`
  const rows: Row[] = []
  const checks: Check[] = []
  if (r.floor)
    rows.push({
      phase: 'crypto floor: RS256 verify + ES256 sign',
      perSecond: r.floor.perSecond,
      note: `1 thread, node:crypto; ${fmt(r.floor.perCpuSecond)}/CPU-s`,
    })
  if (r.inProcess)
    rows.push({
      phase: 'in-process: token core',
      perSecond: r.inProcess.perSecond,
      p50Ms: r.inProcess.p50Ms,
      p99Ms: r.inProcess.p99Ms,
      non2xx: r.inProcess.failures,
      note: `1 thread, ${r.inProcess.ops} exchanges, replay on; ${fmt(r.inProcess.perCpuSecond)}/CPU-s`,
    })
  if (r.lambda)
    rows.push(
      {
        phase: 'Lambda path: bare core (interleaved)',
        perSecond: r.lambda.a.perSecond,
        note: `best of ${r.lambda.rounds} rounds × ${r.lambda.perRound}; ${r.lambda.a.cpuUs.toFixed(0)} CPU µs/exchange`,
      },
      {
        phase: 'Lambda path: token handler (middy, API GW v2 event)',
        perSecond: r.lambda.b.perSecond,
        note: `same rounds; ${r.lambda.b.cpuUs.toFixed(0)} CPU µs/exchange`,
      },
    )
  if (r.usage)
    rows.push(
      {
        phase: 'usage records off (in-process)',
        perSecond: r.usage.a.perSecond,
        note: `best of ${r.usage.rounds} rounds × ${r.usage.perRound}; ${r.usage.a.cpuUs.toFixed(0)} CPU µs/exchange`,
      },
      {
        phase: 'usage records on (in-process)',
        perSecond: r.usage.b.perSecond,
        note: `interleaved; ${r.usage.b.cpuUs.toFixed(0)} CPU µs/exchange`,
      },
    )
  if (r.aws) {
    const ops = Object.entries(r.aws.dynamodbPerExchange)
      .map(([op, n]) => `${op} ${n.toFixed(3)}`)
      .join(', ')
    rows.push({
      phase: `AWS critical path: KMS ${r.aws.kmsSignMs} ms, DynamoDB ${r.aws.dynamodbMs} ms`,
      perSecond: r.aws.exchanges / r.aws.seconds,
      p50Ms: r.aws.p50Ms,
      p99Ms: r.aws.p99Ms,
      non2xx: r.aws.failures,
      note: `sequential, replay on; p90 ${fmt(r.aws.p90Ms, 2)} ms; per exchange: KMS Sign ${r.aws.kmsSignPerExchange.toFixed(3)}, DynamoDB ${ops || 'none'}; DynamoDB answered in ${fmt(r.aws.dynamodbAnswerMs, 1)} ms`,
    })
  }
  if (r.http)
    rows.push(
      loadRow('local HTTP: tessera serve', r.http, `${load}, ${r.http.ok} exchanges, audit log to /dev/null`),
    )
  if (r.paced)
    rows.push(
      loadRow(
        'local HTTP, paced at half that rate',
        r.paced,
        `${CONNECTIONS} conn, ${r.paced.seconds} s, same server`,
      ),
    )
  if (r.bare) rows.push(loadRow('bare node:http', r.bare, load))
  if (r.peer)
    rows.push(
      loadRow('peer: oidc-provider 9', r.peer, `${load}, client_credentials + private_key_jwt, JWT AT ES256`),
    )
  if (r.scaling) {
    rows.push(...r.scaling.policies.map(scalingRow))
    rows.push(...r.scaling.providers.filter((p) => p.providers > 1).map(scalingRow))
  }
  if (r.memory)
    rows.push(
      loadRow('memory: phase A (same server)', r.memory.phaseA, memoryNote(r.memory.afterA)),
      loadRow(
        'memory: phase B (same server)',
        r.memory.phaseB,
        `${memoryNote(r.memory.afterB)}, ${fmt(r.memory.replayEntries)} replay entries`,
      ),
    )

  if (r.http && r.peer) {
    const httpPeer = r.http.perSecond / r.peer.perSecond
    checks.push({
      name: 'http / peer',
      value: `${httpPeer.toFixed(2)}×`,
      target: '≥ 2×',
      pass: httpPeer >= 2,
    })
  }
  if (r.inProcess && r.floor) {
    // CPU-time rates: other processes on the machine slow both down in wall time, not in CPU time.
    const inFloor = r.inProcess.perCpuSecond / r.floor.perCpuSecond
    const inFloorWall = r.inProcess.perSecond / r.floor.perSecond
    checks.push({
      name: 'in-process / crypto floor (CPU time; wall)',
      value: `${(inFloor * 100).toFixed(0)}%; ${(inFloorWall * 100).toFixed(0)}%`,
      target: '≥ 60%',
      pass: inFloor >= 0.6,
    })
  }
  if (r.aws)
    checks.push(
      {
        name: 'AWS critical path p50; p90 (KMS 10 ms, DynamoDB 5 ms)',
        value: `${fmt(r.aws.p50Ms, 1)} ms; ${fmt(r.aws.p90Ms, 1)} ms`,
        target: 'p50 ≤ 13 ms',
        pass: r.aws.p50Ms <= 13,
      },
      {
        name: 'AWS calls per exchange: KMS Sign; DynamoDB writes',
        value: `${r.aws.kmsSignPerExchange.toFixed(3)}; ${(
          (r.aws.dynamodbPerExchange.PutItem ?? 0) + (r.aws.dynamodbPerExchange.UpdateItem ?? 0)
        ).toFixed(3)}`,
        target: '1; 1 + usage flushes',
        pass: r.aws.kmsSignPerExchange === 1 && (r.aws.dynamodbPerExchange.PutItem ?? 0) === 1,
      },
    )
  if (r.lambda)
    checks.push({
      name: 'Lambda handler / bare core (CPU time)',
      value: `${(r.lambda.ratio * 100).toFixed(0)}%`,
      target: '≥ 90%',
      pass: r.lambda.ratio >= 0.9,
    })
  if (r.usage)
    checks.push({
      name: 'usage records on / off (CPU time)',
      value: `${(r.usage.ratio * 100).toFixed(0)}%`,
      target: '≥ 95%',
      pass: r.usage.ratio >= 0.95,
    })
  if (r.http && r.bare)
    checks.push({
      name: 'http / bare http',
      value: `${((r.http.perSecond / r.bare.perSecond) * 100).toFixed(0)}%`,
      target: '(HTTP ceiling)',
    })
  if (r.http && r.floor)
    checks.push({
      name: 'http / crypto floor (wall)',
      value: `${((r.http.perSecond / r.floor.perSecond) * 100).toFixed(0)}%`,
      target: '(info)',
    })
  if (r.http && r.paced)
    checks.push({
      name: 'http p99, 50 connections: saturated; paced',
      value: `${fmt(r.http.p99Ms, 1)} ms; ${fmt(r.paced.p99Ms, 1)} ms`,
      target: '≤ 10 ms',
      pass: r.paced.p99Ms <= 10,
    })
  if (r.http) {
    const phases = [r.http, r.paced, r.memory?.phaseA, r.memory?.phaseB].filter((l) => l !== undefined)
    const failures = phases.reduce((n, l) => n + l.non2xx + l.errors + l.timeouts, 0)
    checks.push({
      name: 'tessera non-2xx (all HTTP phases)',
      value: String(failures),
      target: '0',
      pass: failures === 0,
    })
  }
  if (r.scaling) {
    const one = r.scaling.policies.find((p) => p.policies === 1)
    const many = r.scaling.policies.find((p) => p.policies === 1000)
    const policyCost = one && many ? many.costUs / one.costUs : Number.NaN
    checks.push({
      name: '1,000 / 1 policy cost',
      value: `${policyCost.toFixed(2)}×`,
      target: '≤ 1.2×',
      pass: policyCost <= 1.2,
    })
  }
  if (r.memory)
    checks.push({
      name: 'RSS growth, memory phase A → B',
      value: `${(r.memory.rssGrowth * 100).toFixed(1)}%`,
      target: '≤ 10%',
      pass: r.memory.rssGrowth <= 0.1,
    })
  checks.push({ name: 'JWKS fetches (whole run)', value: String(r.jwksFetches ?? 0), target: '1 per broker' })
  return { rows, checks }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})

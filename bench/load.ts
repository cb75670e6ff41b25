import { type ChildProcess, spawn } from 'node:child_process'
import autocannon from 'autocannon'

/** Load settings shared by the HTTP, bare and peer phases. */
export const CONNECTIONS = 50
export const LOAD_SECONDS = 10

export interface LoadResult {
  readonly requests: number
  readonly ok: number
  readonly seconds: number
  /** 2xx responses per second. */
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  /** Bodies handed out; more than the pool means some were sent twice (and, with replay on, refused). */
  readonly bodiesUsed: number
  readonly poolSize: number
  /** The pool ran low and the run was stopped before `seconds` (see `seconds`). */
  readonly ranOut: boolean
}

/**
 * Drives `url + path` with autocannon: `connections` keep-alive connections for `seconds`, POSTing
 * a different body from `bodies` for every request (setupRequest rotates through the pool).
 */
export async function runLoad(opts: {
  url: string
  path: string
  bodies: readonly string[]
  seconds: number
  connections?: number
  /** Requests per second over all connections (paced load); unset = as fast as answers come. */
  overallRate?: number
  /** The server does not care whether a body repeats (bare HTTP): rotate, never stop early. */
  reuseBodies?: boolean
}): Promise<LoadResult> {
  let next = 0
  const { bodies } = opts
  // Stop early rather than reuse a body: the last fifth of the pool covers the requests still in
  // flight until autocannon's next one-second tick ends the run.
  const stopAt = opts.reuseBodies ? -1 : Math.floor(bodies.length * 0.8)
  let ranOut = false
  const tracker = autocannon({
    url: opts.url,
    connections: opts.connections ?? CONNECTIONS,
    duration: opts.seconds,
    timeout: 10,
    ...(opts.overallRate ? { overallRate: Math.max(1, Math.round(opts.overallRate)) } : {}),
    requests: [
      {
        method: 'POST',
        path: opts.path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req) => {
          if (next === stopAt && !ranOut) {
            ranOut = true
            tracker.stop()
          }
          return { ...req, body: bodies[next++ % bodies.length] as string }
        },
      },
    ],
  })
  const result = await tracker
  const ok = result['2xx']
  return {
    requests: result.requests.total,
    ok,
    seconds: result.duration,
    perSecond: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bodiesUsed: next,
    poolSize: bodies.length,
    ranOut,
  }
}

export interface MemorySample {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
}

/** A server in its own process on loopback. */
export interface ServerChild {
  readonly url: string
  readonly pid: number
  /** Memory of the child after a full GC (needs bench/memory-probe.ts preloaded). */
  memory(): Promise<MemorySample>
  stop(): Promise<void>
}

const children = new Set<ChildProcess>()
let hooked = false

/** Whatever happens to the bench (error, Ctrl-C, exit), no server child outlives it. */
function killAllOnExit(): void {
  if (hooked) return
  hooked = true
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

/**
 * Spawns `node --expose-gc --import tsx --import bench/memory-probe.ts ...args`, stdout discarded
 * (the broker's audit lines go to /dev/null), and waits for `listening on http://...` on stderr.
 */
export async function startServerChild(
  args: readonly string[],
  opts: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<ServerChild> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  killAllOnExit()
  const probe = new URL('./memory-probe.ts', import.meta.url).pathname
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', probe, ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, ...opts.env },
  })
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  exited.then(() => children.delete(child))
  let stderr = ''
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no banner after ${timeoutMs} ms:\n${stderr}`)),
        timeoutMs,
      )
      child.stderr?.setEncoding('utf8')
      child.stderr?.on('data', (chunk: string) => {
        if (stderr.length < 64_000) stderr += chunk
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
        if (match?.[1]) {
          clearTimeout(timer)
          resolve(match[1])
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`server exited with ${code} before listening:\n${stderr}`))
      })
    })
    return {
      url,
      pid: child.pid ?? -1,
      memory: () => askMemory(child),
      stop: async () => {
        child.kill('SIGKILL')
        await exited
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

function askMemory(child: ChildProcess): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('memory probe did not answer')), 10_000)
    const onMessage = (m: unknown) => {
      const sample = m as { type?: string } & MemorySample
      if (sample?.type !== 'memory') return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve({
        rss: sample.rss,
        heapUsed: sample.heapUsed,
        heapTotal: sample.heapTotal,
        external: sample.external,
      })
    }
    child.on('message', onMessage)
    child.send('memory')
  })
}

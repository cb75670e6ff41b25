import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'

export interface FloorResult {
  readonly ops: number
  readonly seconds: number
  readonly perSecond: number
  /** Ops per second of this process's CPU time: robust to other load on the machine. */
  readonly perCpuSecond: number
}

/**
 * The least work one exchange can do: verify one RS256 subject token and sign one ES256 token,
 * with node:crypto and keys imported once, on one thread. `tokens` are distinct real subject tokens.
 */
export function runFloor(tokens: readonly string[], publicPem: string, maxMs: number): FloorResult {
  const rsaPublic = createPublicKey(publicPem)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const ecOptions = { key: ec, dsaEncoding: 'ieee-p1363' as const }
  // An access token's signing input is about this long (header + RFC 9068 claims).
  const payload = Buffer.from('x'.repeat(420))
  const inputs = tokens.map((t) => {
    const dot = t.lastIndexOf('.')
    return { data: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') }
  })
  let ops = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const deadline = start + maxMs
  for (const { data, signature } of inputs) {
    if (!verify('sha256', data, rsaPublic, signature))
      throw new Error('floor: a subject token did not verify')
    sign('sha256', payload, ecOptions)
    ops++
    if ((ops & 63) === 0 && performance.now() >= deadline) break
  }
  const seconds = (performance.now() - start) / 1000
  const { user, system } = process.cpuUsage(cpu)
  return { ops, seconds, perSecond: ops / seconds, perCpuSecond: ops / ((user + system) / 1e6) }
}

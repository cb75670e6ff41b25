import { describe, expect, it } from 'vitest'
import { StoreUnavailable } from '../../lib/errors.js'
import { IDENTITY_PK, identityKey, POLICY_PK, UsageRecorder } from '../../lib/inventory/usage.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { MergeUpdate, StateTable } from '../../lib/store/types.js'

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0)

/** A MemoryTable that counts merges and can be taken down (a dependency double, not the code under test). */
class CountingTable extends MemoryTable {
  merges = 0
  down = false
  constructor(clock: { ms: number }) {
    super(() => Math.floor(clock.ms / 1000))
  }
  override async merge(pk: string, sk: string, update: MergeUpdate): Promise<void> {
    this.merges++
    if (this.down) throw new StoreUnavailable('down')
    return super.merge(pk, sk, update)
  }
}

function setup() {
  const clock = { ms: T0 }
  const table = new CountingTable(clock)
  const errors: unknown[] = []
  const recorder = new UsageRecorder(table as StateTable, {
    now: () => clock.ms,
    onError: (e) => errors.push(e),
  })
  return { clock, table, recorder, errors }
}

const use = {
  provider: 'gh',
  sub: 'repo:acme/app',
  policy: 'deploy',
  granted: ['deploy:write'],
  sourceIp: '10.0.0.1',
}
const settle = () => new Promise((r) => setTimeout(r, 0))

describe('UsageRecorder', () => {
  it('writes the first exchange of an identity and a policy at once, one merge each', async () => {
    const { table, recorder } = setup()
    recorder.allowed(use)
    await settle()
    expect(table.merges).toBe(2)
    const identity = await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app'))
    expect(identity?.attrs).toMatchObject({
      provider: 'gh',
      sub: 'repo:acme/app',
      exchanges: 1,
      first_seen: T0 / 1000,
      last_seen: T0 / 1000,
      'p:deploy': T0 / 1000,
      last_ip: '10.0.0.1',
    })
    const policy = await table.get(POLICY_PK, 'deploy')
    expect(policy?.attrs).toMatchObject({
      last_used: T0 / 1000,
      'g:deploy:write': T0 / 1000,
      'd:2026-12-06': 1,
    })
  })

  it('aggregates later exchanges in memory: no write within 60 s, however many exchanges', async () => {
    const { clock, table, recorder } = setup()
    recorder.allowed(use)
    await settle()
    for (let i = 0; i < 500; i++) {
      clock.ms += 100
      recorder.allowed(use)
    }
    await settle()
    expect(table.merges).toBe(2)
    expect(recorder.pendingCount).toBe(2)
  })

  it('flushes the aggregate after the interval with exact counts', async () => {
    const { clock, table, recorder } = setup()
    recorder.allowed(use)
    await settle()
    for (let i = 0; i < 9; i++) recorder.allowed(use)
    clock.ms += 60_000
    recorder.allowed(use)
    await settle()
    expect(table.merges).toBe(4)
    const identity = await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app'))
    expect(identity?.attrs.exchanges).toBe(11)
    expect(identity?.attrs.first_seen).toBe(T0 / 1000)
    expect(identity?.attrs.last_seen).toBe(T0 / 1000 + 60)
  })

  it('flushAll writes every pending record (before /inventory answers)', async () => {
    const { table, recorder } = setup()
    recorder.allowed(use)
    await settle()
    recorder.allowed(use)
    recorder.denied({ provider: 'gh', sub: 'other' })
    await recorder.flushAll()
    expect(recorder.pendingCount).toBe(0)
    expect((await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app')))?.attrs.exchanges).toBe(2)
  })

  it('counts denials per identity without touching last_seen', async () => {
    const { table, recorder } = setup()
    recorder.denied({ provider: 'gh', sub: 'intruder' })
    recorder.denied({ provider: 'gh', sub: 'intruder' })
    await recorder.flushAll()
    const attrs = (await table.get(IDENTITY_PK, identityKey('gh', 'intruder')))?.attrs
    expect(attrs).toMatchObject({ denied: 2, last_denied: T0 / 1000 })
    expect(attrs?.last_seen).toBeUndefined()
    expect(attrs?.exchanges).toBeUndefined()
  })

  it('keeps the changes when the store is down and writes them with the next flush', async () => {
    const { table, recorder, errors } = setup()
    table.down = true
    recorder.allowed(use)
    recorder.allowed(use)
    await settle()
    await recorder.flushAll()
    expect(errors.length).toBeGreaterThan(0)
    expect(await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app'))).toBeUndefined()
    table.down = false
    await recorder.flushAll()
    expect((await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app')))?.attrs.exchanges).toBe(2)
    expect((await table.get(POLICY_PK, 'deploy'))?.attrs['d:2026-12-06']).toBe(2)
  })

  it('never throws into the exchange path when the store fails', () => {
    const { table, recorder } = setup()
    table.down = true
    expect(() => recorder.allowed(use)).not.toThrow()
    expect(() => recorder.denied({ provider: 'gh', sub: 'x' })).not.toThrow()
  })

  it('keeps two subjects with the same name under different providers apart', async () => {
    const { table, recorder } = setup()
    recorder.allowed(use)
    recorder.allowed({ ...use, provider: 'gitlab' })
    await recorder.flushAll()
    expect(await table.query(IDENTITY_PK)).toHaveLength(2)
  })

  it('a flush timer writes pending records without traffic and never keeps the process alive', async () => {
    const clock = { ms: T0 }
    const table = new CountingTable(clock)
    const recorder = new UsageRecorder(table, { now: () => clock.ms, flushIntervalMs: 20 })
    recorder.allowed(use)
    await settle()
    recorder.allowed(use)
    recorder.start()
    clock.ms += 20
    await new Promise((r) => setTimeout(r, 60))
    recorder.stop()
    expect(recorder.pendingCount).toBe(0)
    expect((await table.get(IDENTITY_PK, identityKey('gh', 'repo:acme/app')))?.attrs.exchanges).toBe(2)
  })
})

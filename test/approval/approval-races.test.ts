import { describe, expect, it } from 'vitest'
import { Approvals } from '../../lib/approval/approvals.js'
import { pollApproval } from '../../lib/approval/poll.js'
import { type BrokerError, InvalidGrant, SlowDown } from '../../lib/errors.js'
import type { StateItem, StateTable, WriteCondition } from '../../lib/store/types.js'
import { storeKinds } from '../instance/stores.js'
import { approvalSetup } from './approval-fixture.js'

// Interleavings that Promise.all does not reliably produce: a table that stops one chosen call
// until the test lets it go, so each race is replayed step by step.

type Call = { readonly op: 'get' | 'put'; readonly pk: string }

/** A real table whose calls can be held, once each, at a chosen point. */
class GatedTable implements StateTable {
  #gates: { match: (c: Call) => boolean; reached: () => void; released: Promise<void> }[] = []
  constructor(private readonly inner: StateTable) {}

  /** Holds the next call that matches until `release`; `reached` resolves when it is held. */
  hold(match: (c: Call) => boolean): { reached: Promise<void>; release: () => void } {
    let reached!: () => void
    let release!: () => void
    const reachedP = new Promise<void>((r) => {
      reached = r
    })
    const released = new Promise<void>((r) => {
      release = r
    })
    this.#gates.push({ match, reached, released })
    return { reached: reachedP, release }
  }

  async #pass(call: Call): Promise<void> {
    const i = this.#gates.findIndex((g) => g.match(call))
    const gate = this.#gates[i]
    if (!gate) return
    this.#gates.splice(i, 1)
    gate.reached()
    await gate.released
  }

  async put(item: StateItem, condition?: WriteCondition) {
    await this.#pass({ op: 'put', pk: item.pk })
    return this.inner.put(item, condition)
  }
  async get(pk: string, sk: string) {
    await this.#pass({ op: 'get', pk })
    return this.inner.get(pk, sk)
  }
  delete(...args: Parameters<StateTable['delete']>) {
    return this.inner.delete(...args)
  }
  query(pk: string) {
    return this.inner.query(pk)
  }
  increment(...args: Parameters<StateTable['increment']>) {
    return this.inner.increment(...args)
  }
  merge(...args: Parameters<StateTable['merge']>) {
    return this.inner.merge(...args)
  }
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => e as BrokerError,
  )

describe.each(storeKinds())('approval races on $name', (store) => {
  it('never lets a too-early poll undo a redemption made while it was in flight', async () => {
    const s = approvalSetup(store)
    const gated = new GatedTable(s.tableA)
    const held = new Approvals({ ...s.a.deps, table: gated })
    const { authReqId, record } = await s.create()
    await s.a.decide(record.id, s.approver('alice'), 'approve', { requestId: 'r' })
    s.clock.ms += 5000

    // The on-time poll has recorded itself and is about to read the approved request…
    const readRecord = gated.hold((c) => c.op === 'get' && c.pk.startsWith('approval#'))
    const onTime = pollApproval(held, authReqId, 'on-time')
    await readRecord.reached
    // …meanwhile one too-early poll lands, and a second one has read the handle and is about to write.
    expect(await failure(pollApproval(s.b, authReqId, 'early-1'))).toBeInstanceOf(SlowDown)
    const writeHandle = gated.hold((c) => c.op === 'put' && c.pk.startsWith('approval-handle#'))
    const early = failure(pollApproval(held, authReqId, 'early-2'))
    await writeHandle.reached
    readRecord.release()
    expect((await onTime).record.id).toBe(record.id)
    writeHandle.release()
    expect([SlowDown, InvalidGrant]).toContain((await early).constructor)

    s.clock.ms += 60_000
    expect(await failure(pollApproval(s.b, authReqId, 'later'))).toBeInstanceOf(InvalidGrant)
  })
})

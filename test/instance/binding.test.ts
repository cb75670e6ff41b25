import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { InvalidRequest } from '../../lib/errors.js'
import {
  assertNonceFormat,
  type BindingRequest,
  bindInstance,
  listBindings,
  RESET_GRACE_SECONDS,
  resetBinding,
} from '../../lib/instance/binding.js'
import { instanceId, storeKinds } from './stores.js'

const NOW_S = Math.floor(Date.parse('2026-03-01T12:00:00Z') / 1000)
const nonce = () => randomBytes(32).toString('base64url')

describe.each(storeKinds())('instance binding on $name', (store) => {
  function setup() {
    const clock = { s: NOW_S }
    const table = store.open(() => clock.s * 1000)
    const audit = new MemoryAuditSink()
    const req = (over: Partial<BindingRequest> = {}): BindingRequest => ({
      provider: 'p',
      instanceId: 'i-00000000',
      accountId: '111122223333',
      region: 'us-east-1',
      pendingTime: clock.s - 60,
      nonce: nonce(),
      now: clock.s,
      requestId: 'r',
      registrationWindow: 900,
      lifetime: 86_400,
      ...over,
    })
    return { clock, table, audit, req }
  }

  it('lists bindings with first/last seen, pending time, exchanges and alerts', async () => {
    const { table, audit, req, clock } = setup()
    const id = instanceId()
    const n = nonce()
    await bindInstance(table, audit, req({ instanceId: id, nonce: n }))
    clock.s += 30
    await bindInstance(table, audit, req({ instanceId: id, nonce: n, now: clock.s, pendingTime: NOW_S - 60 }))
    await expect(bindInstance(table, audit, req({ instanceId: id, now: clock.s }))).rejects.toBeInstanceOf(
      InvalidRequest,
    )
    const b = (await listBindings(table)).find((x) => x.instanceId === id)
    expect(b).toMatchObject({
      firstSeen: NOW_S,
      lastSeen: NOW_S + 30,
      pendingTime: NOW_S - 60,
      exchanges: 2,
      cloneAlerts: 1,
      reset: false,
    })
  })

  it('reset returns false for an unknown instance, marks it, and the marker lapses after the grace period', async () => {
    const { table, audit, req, clock } = setup()
    const id = instanceId()
    expect(await resetBinding(table, id, clock.s)).toBe(false)
    expect((await listBindings(table)).find((x) => x.instanceId === id)?.reset).toBe(true)
    clock.s += RESET_GRACE_SECONDS + 1
    const old = req({ instanceId: id, now: clock.s, pendingTime: NOW_S - 7200 })
    await expect(bindInstance(table, audit, old)).rejects.toThrow(/registration window/)
  })

  it('never stores the nonce itself', async () => {
    const { table, audit, req } = setup()
    const id = instanceId()
    const n = nonce()
    await bindInstance(table, audit, req({ instanceId: id, nonce: n }))
    const item = await table.get('instance-binding', id)
    expect(JSON.stringify(item)).not.toContain(n)
  })
})

describe('assertNonceFormat', () => {
  it('accepts exactly 32 bytes of base64url without padding (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64url')
        expect(assertNonceFormat(text)).toBe(text)
      }),
    )
  })

  it('refuses every other length (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }).filter((b) => b.length !== 32),
        (bytes) => {
          expect(() => assertNonceFormat(Buffer.from(bytes).toString('base64url'))).toThrow(InvalidRequest)
        },
      ),
    )
  })

  it('refuses non-canonical trailing bits, padding, standard base64 and undefined', () => {
    const n = nonce()
    const last = n.at(-1) as string
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const sibling = alphabet[(alphabet.indexOf(last) ^ 1) % 64] as string
    expect(() => assertNonceFormat(n.slice(0, 42) + sibling)).toThrow(InvalidRequest)
    expect(() => assertNonceFormat(`${n}=`)).toThrow(InvalidRequest)
    // standard-alphabet characters ('+', '/') are refused wherever they stand
    expect(() => assertNonceFormat(`+${n.slice(1)}`)).toThrow(InvalidRequest)
    expect(() => assertNonceFormat(`${n.slice(0, 20)}/${n.slice(21)}`)).toThrow(InvalidRequest)
    expect(() => assertNonceFormat(undefined)).toThrow(InvalidRequest)
  })
})

import { describe, expect, it } from 'vitest'
import { ConfigSchema } from '../../lib/config/schema.js'
import type { BrokerError } from '../../lib/errors.js'
import { TooManyRequests } from '../../lib/errors.js'
import { createNonceService, NONCE_TTL_SECONDS } from '../../lib/instance/nonce.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateItem, StateTable } from '../../lib/store/types.js'
import { storeKinds } from './stores.js'

const NOW = Date.parse('2026-03-01T12:00:10Z')
let ipSeq = 0
const freshIp = () => `192.0.2.${++ipSeq}-${Math.random().toString(36).slice(2)}`

describe.each(storeKinds())('nonce service on $name', (store) => {
  function setup(rateLimitPerMinute = 120) {
    const clock = { now: NOW }
    const table = store.open(() => clock.now)
    return { clock, nonces: createNonceService(table, { rateLimitPerMinute, now: () => clock.now }) }
  }

  it('issues 10-digit nonces valid for 300 s that are consumed exactly once', async () => {
    const { nonces } = setup()
    const issued = await nonces.issue(freshIp())
    expect(issued).toEqual({ nonce: expect.stringMatching(/^\d{10}$/), expires_in: NONCE_TTL_SECONDS })
    expect(await nonces.consume(issued.nonce)).toBe(true)
    expect(await nonces.consume(issued.nonce)).toBe(false)
  })

  it('lets exactly one of 10 concurrent consumers win', async () => {
    const { nonces } = setup()
    const { nonce } = await nonces.issue(freshIp())
    const results = await Promise.all(Array.from({ length: 10 }, () => nonces.consume(nonce)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('refuses a nonce that was never issued here', async () => {
    const { nonces } = setup()
    expect(await nonces.consume('0123456789')).toBe(false)
  })

  it('refuses an expired nonce', async () => {
    const { clock, nonces } = setup()
    const { nonce } = await nonces.issue(freshIp())
    clock.now += (NONCE_TTL_SECONDS + 1) * 1000
    expect(await nonces.consume(nonce)).toBe(false)
  })

  it('keeps a consumed nonce until the assertion embedding it can no longer be accepted', async () => {
    const clock = { now: NOW }
    const table = store.open(() => clock.now)
    const written: StateItem[] = []
    const recording: StateTable = {
      put: (item, condition) => {
        written.push(item)
        return table.put(item, condition)
      },
      get: (pk, sk) => table.get(pk, sk),
      delete: (pk, sk, condition) => table.delete(pk, sk, condition),
      query: (pk) => table.query(pk),
      increment: (pk, sk, attr, opts) => table.increment(pk, sk, attr, opts),
      merge: (pk, sk, update) => table.merge(pk, sk, update),
    }
    const nonces = createNonceService(recording, { rateLimitPerMinute: 10, now: () => clock.now })
    const { nonce } = await nonces.issue(freshIp())
    const keepUntil = NOW / 1000 + 3600
    expect(await nonces.consume(nonce, keepUntil)).toBe(true)
    const consumed = written.at(-1)
    expect(consumed).toMatchObject({ expiresAt: keepUntil, attrs: { state: 'consumed' } })
    // Long past the nonce's own 300 s, the digits are still taken: they cannot be issued again.
    clock.now += 3000 * 1000
    expect(await table.get(consumed?.pk ?? '', '-')).toMatchObject({ attrs: { state: 'consumed' } })
    expect(await table.put({ pk: consumed?.pk ?? '', sk: '-', attrs: {} }, { ifAbsent: true })).toBe(false)
    expect(await nonces.consume(nonce, keepUntil)).toBe(false)
  })

  it('never keeps a consumed nonce shorter than its own lifetime', async () => {
    const { clock, nonces } = setup()
    const { nonce } = await nonces.issue(freshIp())
    expect(await nonces.consume(nonce, 1)).toBe(true)
    clock.now += (NONCE_TTL_SECONDS - 1) * 1000
    expect(await nonces.consume(nonce)).toBe(false)
  })

  it('refuses malformed nonces without touching the store', async () => {
    const { nonces } = setup()
    for (const bad of ['', '123', '12345678901', 'abcdefghij', ' 123456789', '１２３４５６７８９０']) {
      expect(await nonces.consume(bad)).toBe(false)
    }
  })

  it('allows the configured number per minute per address, then 429 with Retry-After', async () => {
    const { clock, nonces } = setup(3)
    const ip = freshIp()
    for (let i = 0; i < 3; i++) await nonces.issue(ip)
    const err = await nonces.issue(ip).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TooManyRequests)
    expect((err as BrokerError).status).toBe(429)
    expect((err as BrokerError).code).toBe('invalid_request')
    expect(Number((err as BrokerError).headers['Retry-After'])).toBe(50)
    await expect(nonces.issue(freshIp())).resolves.toBeDefined() // other addresses unaffected
    clock.now += 60_000
    await expect(nonces.issue(ip)).resolves.toBeDefined() // next minute
  })

  it('counts every address of one IPv6 /64 together', async () => {
    const { nonces } = setup(2)
    const prefix = `2001:db8:${(++ipSeq).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`
    await nonces.issue(`${prefix}::1`)
    await nonces.issue(`${prefix}:0:0:0:2`)
    await expect(nonces.issue(`${prefix}:dead:beef:0:3`)).rejects.toBeInstanceOf(TooManyRequests)
    await expect(nonces.issue(`${prefix.replace('2001', '2002')}::1`)).resolves.toBeDefined()
  })

  it('caps the nonces of all addresses together per minute', async () => {
    const clock = { now: NOW + 3 * 3_600_000 + ++ipSeq * 60_000 }
    const table = store.open(() => clock.now)
    const nonces = createNonceService(table, {
      rateLimitPerMinute: 10,
      now: () => clock.now,
      globalLimitPerMinute: 3,
    })
    for (let i = 0; i < 3; i++) await nonces.issue(freshIp())
    const err = await nonces.issue(freshIp()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TooManyRequests)
    expect((err as BrokerError).message).toBe('too many nonce requests; retry later')
    clock.now += 60_000
    await expect(nonces.issue(freshIp())).resolves.toBeDefined()
  })

  it('a concurrent burst below the limit from one address (VMs behind one NAT) is served in full', async () => {
    const { nonces } = setup(120)
    const ip = freshIp()
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => nonces.issue(ip)))
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
  })

  it('a concurrent burst above the limit is cut at exactly the limit, the rest 429', async () => {
    const { nonces } = setup(20)
    const ip = freshIp()
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => nonces.issue(ip)))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TooManyRequests)
  })
})

describe('nonce rate limit default', () => {
  it('allows 120 requests per minute per address (config default), then refuses', async () => {
    const table = new MemoryTable(() => Math.floor(NOW / 1000))
    const { nonce } = ConfigSchema.shape
    const limit = nonce.parse({}).rateLimit
    expect(limit).toBe(120)
    const nonces = createNonceService(table, { rateLimitPerMinute: limit, now: () => NOW })
    const ip = freshIp()
    for (let i = 0; i < 120; i++) await nonces.issue(ip)
    await expect(nonces.issue(ip)).rejects.toBeInstanceOf(TooManyRequests)
  })
})

import { describe, expect, it } from 'vitest'
import { createMetrics, MemoryTelemetry } from '../../lib/audit/emf-metrics.js'
import { captureStdout } from './capture-stdout.js'

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string
      Dimensions: string[][]
      Metrics: { Name: string; Unit: string }[]
    }[]
  }
  [k: string]: unknown
}

describe('createMetrics (EMF)', () => {
  it('writes one EMF line per dimension set on flush, counts aggregated', async () => {
    const lines = await captureStdout(() => {
      const m = createMetrics()
      m.count('exchanges', { outcome: 'allowed' })
      m.count('exchanges', { outcome: 'allowed' })
      m.count('exchanges', { outcome: 'denied' })
      m.timing('latency', 4.5, { outcome: 'allowed' })
      m.count('jwks_fetches')
      m.flush()
    })
    const emf = lines.map((l) => JSON.parse(l) as Emf)
    expect(emf).toHaveLength(3)
    const allowed = emf.find((e) => e.outcome === 'allowed')!
    expect(allowed._aws.CloudWatchMetrics[0]?.Namespace).toBe('Tessera')
    expect(allowed._aws.CloudWatchMetrics[0]?.Dimensions[0]?.sort()).toEqual(['outcome', 'service'])
    expect(allowed._aws.CloudWatchMetrics[0]?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'exchanges', Unit: 'Count' },
        { Name: 'latency', Unit: 'Milliseconds' },
      ]),
    )
    expect(allowed.exchanges).toEqual([1, 1])
    expect(allowed.latency).toBe(4.5)
    expect(emf.find((e) => e.outcome === 'denied')?.exchanges).toBe(1)
    expect(emf.find((e) => e.outcome === undefined)?.jwks_fetches).toBe(1)
  })

  it('writes nothing when nothing was recorded, and nothing twice', async () => {
    const m = createMetrics()
    expect(await captureStdout(() => m.flush())).toEqual([])
    const first = await captureStdout(() => {
      m.count('store_errors')
      m.flush()
      m.flush()
    })
    expect(first).toHaveLength(1)
  })

  it('folds dimension sets beyond the cap into the undimensioned metric', async () => {
    const lines = await captureStdout(() => {
      const m = createMetrics({ maxDimensionSets: 2 })
      for (let i = 0; i < 10; i++) m.count('kms_errors', { error: `e${i}` })
      m.flush()
    })
    expect(lines.length).toBeLessThanOrEqual(3)
    const total = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .reduce((n, e) => n + (Array.isArray(e.kms_errors) ? e.kms_errors.length : e.kms_errors ? 1 : 0), 0)
    expect(total).toBe(10)
  })

  it('ignores empty and reserved dimension names; negative timings clamp to 0', async () => {
    const lines = await captureStdout(() => {
      const m = createMetrics()
      m.timing('latency', -5, { '': 'x', service: 'spoof', outcome: '' })
      m.flush()
    })
    const emf = JSON.parse(lines[0]!) as Emf
    expect(emf._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(['service'])
    expect(emf.service).toBe('tessera')
    expect(emf.latency).toBe(0)
  })
})

describe('MemoryTelemetry', () => {
  it('totals counters by dimension', () => {
    const t = new MemoryTelemetry()
    t.count('exchanges', { outcome: 'allowed' })
    t.count('exchanges', { outcome: 'denied' }, 2)
    expect(t.total('exchanges')).toBe(3)
    expect(t.total('exchanges', { outcome: 'denied' })).toBe(2)
    expect(t.total('store_errors')).toBe(0)
  })
})

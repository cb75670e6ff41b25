import { describe, expect, it } from 'vitest'
import { SeenProofs } from '../../verify/seen-proofs.js'

describe('SeenProofs', () => {
  it('accepts a key once while it is unexpired, and again once it has expired', () => {
    const seen = new SeenProofs()
    expect(seen.firstUse('k', 160, 100)).toBe(true)
    expect(seen.firstUse('k', 160, 100)).toBe(false)
    expect(seen.firstUse('k', 160, 160)).toBe(false)
    expect(seen.firstUse('k', 220, 161)).toBe(true)
  })

  it('keeps unexpired keys when full, dropping expired ones first', () => {
    const seen = new SeenProofs(3)
    seen.firstUse('old', 50, 10)
    seen.firstUse('a', 200, 100)
    seen.firstUse('b', 200, 100)
    expect(seen.firstUse('c', 200, 100)).toBe(true) // 'old' (expired) is pruned to make room
    expect(seen.firstUse('a', 200, 100)).toBe(false)
    expect(seen.firstUse('b', 200, 100)).toBe(false)
  })

  it('stays bounded: past the limit the oldest unexpired key goes', () => {
    const seen = new SeenProofs(2)
    seen.firstUse('a', 200, 100)
    seen.firstUse('b', 200, 100)
    seen.firstUse('c', 200, 100)
    expect(seen.firstUse('c', 200, 100)).toBe(false)
    expect(seen.firstUse('a', 200, 100)).toBe(true)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rateLimitUnit } from '../../lib/instance/rate-key.js'

describe('rateLimitUnit', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0:0:1::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.7', '64:ff9b:0:0::/64'],
  ])('%s counts as %s', (address, unit) => {
    expect(rateLimitUnit(address)).toBe(unit)
  })

  it.each(['', 'not-an-ip', '192.0.2.300', '2001:db8::1::2', 'x'.repeat(100)])(
    'a string that is no address (%s) counts as itself',
    (text) => {
      expect(rateLimitUnit(text)).toBe(text)
    },
  )

  it('property: every address of one /64 is one unit, and different /64s are different units', () => {
    const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16))
    const prefix = fc.tuple(group, group, group, group)
    const suffix = fc.tuple(group, group, group, group)
    fc.assert(
      fc.property(prefix, suffix, suffix, prefix, (p, s1, s2, q) => {
        const a = rateLimitUnit([...p, ...s1].join(':'))
        expect(a).toBe(rateLimitUnit([...p, ...s2].join(':')))
        const same = p.every((g, i) => Number.parseInt(g, 16) === Number.parseInt(q[i] as string, 16))
        expect(a === rateLimitUnit([...q, ...s1].join(':'))).toBe(same)
      }),
    )
  })
})

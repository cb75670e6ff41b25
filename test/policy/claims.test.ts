import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { lookupClaim, parseClaimName } from '../../lib/policy/claims.js'

const look = (claims: unknown, name: string) => lookupClaim(claims, parseClaimName(name))

describe('claim lookup', () => {
  it('reads a top-level claim', () => {
    expect(look({ sub: 'repo:acme/app' }, 'sub')).toBe('repo:acme/app')
  })

  it('walks nested objects for a dotted name', () => {
    const claims = { google: { compute_engine: { instance_id: '123' } } }
    expect(look(claims, 'google.compute_engine.instance_id')).toBe('123')
  })

  it('prefers the literal dotted key over the nested path', () => {
    expect(look({ 'a.b': 'literal', a: { b: 'nested' } }, 'a.b')).toBe('literal')
  })

  it('uses a literal key even when its value is null', () => {
    expect(look({ 'a.b': null, a: { b: 'nested' } }, 'a.b')).toBeNull()
  })

  it('finds a key that itself contains dots, as in a Kubernetes projected service-account token', () => {
    const claims = {
      'kubernetes.io': {
        namespace: 'payments',
        serviceaccount: { name: 'deployer', uid: 'u-1' },
        pod: { name: 'deployer-7f9', uid: 'p-1' },
      },
    }
    expect(look(claims, 'kubernetes.io.namespace')).toBe('payments')
    expect(look(claims, 'kubernetes.io.serviceaccount.name')).toBe('deployer')
    expect(look(claims, 'kubernetes.io.pod.uid')).toBe('p-1')
  })

  it('tries the longest literal key first at every level', () => {
    const claims = { 'a.b': { c: 'long' }, a: { b: { c: 'short' } } }
    expect(look(claims, 'a.b.c')).toBe('long')
    expect(look({ x: { 'y.z': 'deep-literal', y: { z: 'nested' } } }, 'x.y.z')).toBe('deep-literal')
  })

  it('takes the longest present key without falling back to a shorter one', () => {
    // `a.b` exists but holds no `c`: the lookup does not retry through `a` (one answer per name).
    expect(look({ 'a.b': {}, a: { b: { c: 'short' } } }, 'a.b.c')).toBeUndefined()
  })

  it('reads an own __proto__ claim from JSON.parse as a plain claim', () => {
    expect(look(JSON.parse('{"__proto__":"x"}'), '__proto__')).toBe('x')
  })
})

describe('claim lookup: missing and hostile names', () => {
  it.each([
    ['missing', { sub: 'x' }, 'aud'],
    ['__proto__ not own', {}, '__proto__'],
    ['constructor', {}, 'constructor'],
    ['toString', {}, 'toString'],
    ['hasOwnProperty', {}, 'hasOwnProperty'],
    ['constructor.name', {}, 'constructor.name'],
    ['__proto__.polluted', {}, '__proto__.polluted'],
    ['nested constructor', { a: {} }, 'a.constructor'],
    ['nested toString.name', { a: {} }, 'a.toString.name'],
    ['through an array', { a: [{ b: 'x' }] }, 'a.0.b'],
    ['array length', { a: ['x'] }, 'a.length'],
    ['string length', { a: 'xyz' }, 'a.length'],
    ['through null', { a: null }, 'a.b'],
    ['through a string', { a: 'b' }, 'a.b'],
    ['through a number', { a: 1 }, 'a.b'],
    ['too deep', { a: { b: 'x' } }, 'a.b.c'],
    ['empty segment', { a: { b: 'x' } }, 'a..b'],
    ['trailing dot', { a: { b: 'x' } }, 'a.b.'],
    ['dotted key prefix only', { 'kubernetes.io': { namespace: 'x' } }, 'kubernetes.io.name'],
    ['dotted key that is a string', { 'kubernetes.io': 'x' }, 'kubernetes.io.namespace'],
    ['dotted key through an array', { 'kubernetes.io': [{ namespace: 'x' }] }, 'kubernetes.io.namespace'],
    ['half a dotted key', { kubernetes: { 'io.namespace': undefined } }, 'kubernetes.io'],
    ['inherited dotted key', Object.create({ 'a.b': 'x' }), 'a.b'],
  ])('%s -> missing', (_label, claims, name) => {
    expect(look(claims, name)).toBeUndefined()
  })

  it('does not read inherited properties even when the prototype is polluted', () => {
    const proto = { inherited: 'x', nested: { b: 'y' } }
    const claims = Object.create(proto) as Record<string, unknown>
    expect(look(claims, 'inherited')).toBeUndefined()
    expect(look(claims, 'nested.b')).toBeUndefined()
  })

  it.each([null, undefined, 'string', 42, ['sub']])(
    'claims that are not an object (%j) have no claims',
    (claims) => {
      expect(look(claims, 'sub')).toBeUndefined()
      expect(look(claims, '0')).toBeUndefined()
    },
  )
})

describe('claim lookup: property', () => {
  const segment = fc.constantFrom('a', 'b', 'c', 'io', '__proto__', 'constructor')
  const names = fc.array(segment, { minLength: 1, maxLength: 5 })

  it('however the segments of a name are grouped into dotted keys, the value is found', () => {
    fc.assert(
      fc.property(names, fc.array(fc.boolean(), { maxLength: 4 }), fc.string(), (segments, cuts, value) => {
        // Build nested objects whose keys are runs of segments joined by dots.
        const groups: string[][] = [[segments[0] as string]]
        segments.slice(1).forEach((s, i) => {
          if (cuts[i]) groups.push([s])
          else groups.at(-1)?.push(s)
        })
        let claims: unknown = value
        for (const g of [...groups].reverse()) {
          const level: Record<string, unknown> = {}
          Object.defineProperty(level, g.join('.'), { value: claims, enumerable: true })
          claims = level
        }
        return look(claims, segments.join('.')) === value
      }),
    )
  })

  it('never reads anything but own properties', () => {
    fc.assert(fc.property(names, (segments) => look({}, segments.join('.')) === undefined))
  })
})

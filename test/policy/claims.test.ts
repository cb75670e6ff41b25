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

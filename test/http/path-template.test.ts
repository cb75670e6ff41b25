import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { matchPath, pathParamName, routeTable } from '../../lib/http/path-template.js'

describe('path templates', () => {
  it('a literal path matches only itself, with no parameters', () => {
    expect(matchPath('/token', '/token')).toEqual({})
    expect(matchPath('/token', '/token/')).toBeUndefined()
    expect(matchPath('/token', '/Token')).toBeUndefined()
  })

  it('one parameter segment matches one segment and names it', () => {
    expect(matchPath('/approvals/{id}', '/approvals/abc_DEF-123')).toEqual({ id: 'abc_DEF-123' })
    expect(pathParamName('/approvals/{id}')).toBe('id')
    expect(pathParamName('/approvals')).toBeUndefined()
  })

  it.each([
    ['an empty segment', '/approvals/'],
    ['two segments', '/approvals/a/b'],
    ['percent-encoding', '/approvals/a%2Fb'],
    ['a dot segment', '/approvals/..'],
    ['a single dot', '/approvals/.'],
    ['the parent path', '/approvals'],
    ['a longer prefix', '/approvalsx/a'],
    ['an over-long id', `/approvals/${'a'.repeat(129)}`],
  ])('refuses %s', (_, path) => {
    expect(matchPath('/approvals/{id}', path)).toBeUndefined()
  })

  it('the template itself is not a request path that matches it', () => {
    expect(matchPath('/approvals/{id}', '/approvals/{id}')).toBeUndefined()
  })

  it('refuses a template with two parameters', () => {
    expect(() => pathParamName('/a/{x}/{y}')).toThrow(/more than one parameter/)
  })

  it('property: any matched value is one segment of unreserved characters, returned as given', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (value) => {
        const params = matchPath('/approvals/{id}', `/approvals/${value}`)
        if (params === undefined) return
        expect(params.id).toBe(value)
        expect(value).toMatch(/^[A-Za-z0-9._~-]{1,128}$/)
        expect(value).not.toMatch(/^\.{1,2}$/)
      }),
    )
  })

  it('a route table prefers the literal path and falls back to templates', () => {
    const find = routeTable([
      { path: '/approvals/{id}', handler: 'one' },
      { path: '/approvals/pending', handler: 'literal' },
      { path: '/approvals', handler: 'list' },
    ])
    expect(find('/approvals/pending')).toBe('literal')
    expect(find('/approvals/x1')).toBe('one')
    expect(find('/approvals')).toBe('list')
    expect(find('/approvals/a/b')).toBeUndefined()
    expect(find('/other')).toBeUndefined()
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineCounter, parseDocument, stringify } from 'yaml'
import { locate } from '../../lib/config/locate.js'

function at(text: string, path: (string | number)[]) {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  return locate(doc, lineCounter, path)
}

const CONFIG = `issuer: https://sts.example.com
providers:
  - name: gha
    kind: oidc
policies:
  - name: a
    match: { sub: x }
  - name: b
    provider: gha
    match:
      sub: repo:acme/app:ref:refs/heads/main
      ref:
        glob: refs/heads/*
`

describe('locate', () => {
  it('points at the key of a map entry', () => {
    expect(at(CONFIG, ['policies', 1, 'match', 'sub'])).toEqual({ line: 11, col: 7 })
    expect(at(CONFIG, ['policies', 1, 'match', 'ref', 'glob'])).toEqual({ line: 13, col: 9 })
    expect(at(CONFIG, ['issuer'])).toEqual({ line: 1, col: 1 })
  })

  it('points at the first character of a sequence item', () => {
    expect(at(CONFIG, ['policies', 1])).toEqual({ line: 8, col: 5 })
    expect(at(CONFIG, ['providers', 0])).toEqual({ line: 3, col: 5 })
  })

  it('finds keys inside flow maps', () => {
    expect(at(CONFIG, ['policies', 0, 'match', 'sub'])).toEqual({ line: 7, col: 14 })
  })

  it('falls back to the deepest existing ancestor for a missing key', () => {
    expect(at(CONFIG, ['providers', 0, 'audiences'])).toEqual({ line: 3, col: 5 })
    expect(at(CONFIG, ['policies', 1, 'match', 'environment'])).toEqual({ line: 10, col: 5 })
  })

  it('falls back for an index past the end, or a path through a scalar', () => {
    expect(at(CONFIG, ['policies', 9, 'match'])).toEqual({ line: 5, col: 1 })
    expect(at(CONFIG, ['issuer', 'x', 'y'])).toEqual({ line: 1, col: 1 })
    expect(at(CONFIG, ['policies', 'name'])).toEqual({ line: 5, col: 1 })
  })

  it('returns the document start for an empty path and undefined for an empty document', () => {
    expect(at(CONFIG, [])).toEqual({ line: 1, col: 1 })
    expect(at('', ['issuer'])).toBeUndefined()
    expect(at('# only a comment\n', ['issuer'])).toBeUndefined()
  })

  it('follows aliases', () => {
    const text = 'base: &m\n  sub: x\npolicies:\n  - match: *m\n'
    expect(at(text, ['policies', 0, 'match', 'sub'])).toEqual({ line: 2, col: 3 })
  })

  it('matches numeric keys given as strings', () => {
    expect(at('a:\n  1: x\n', ['a', '1'])).toEqual({ line: 2, col: 3 })
  })

  it('locates every leaf key of any generated document on a line holding that key', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/)
    const leaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
        fc.array(tie('node'), { maxLength: 3 }),
      ),
    })).node
    fc.assert(
      fc.property(fc.dictionary(key, tree, { minKeys: 1, maxKeys: 4 }), (value) => {
        const text = stringify(value)
        const lines = text.split('\n')
        const walk = (node: unknown, path: (string | number)[]): void => {
          if (Array.isArray(node)) {
            for (const [i, child] of node.entries()) walk(child, [...path, i])
          } else if (typeof node === 'object' && node !== null) {
            for (const [k, child] of Object.entries(node)) {
              const pos = at(text, [...path, k])
              expect(pos).toBeDefined()
              expect(lines[(pos?.line ?? 0) - 1]?.slice((pos?.col ?? 1) - 1).startsWith(k)).toBe(true)
              walk(child, [...path, k])
            }
          }
        }
        walk(value, [])
      }),
      { numRuns: 60 },
    )
  })
})

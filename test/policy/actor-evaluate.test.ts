import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compilePolicies } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import { buildConfig, request, tokenPolicy } from './build-config.js'

const API = 'https://api.example.com'
const plain = tokenPolicy('plain', { sub: 'user-1' })
const delegated = {
  ...(tokenPolicy('delegated', { sub: { glob: 'user-*' } }) as Record<string, unknown>),
  actor: { provider: 'gitlab', match: { sub: 'agent-7' } },
}
const compiled = compilePolicies(buildConfig([plain, delegated]))
const actor = (sub: unknown, provider = 'gitlab') => ({ provider, claims: { sub } })

describe('evaluate: delegation is opt-in both ways', () => {
  it('answers a request with a matching actor only from a policy with actor:', () => {
    const d = evaluate(compiled, request({ sub: 'user-1' }, { audiences: [API], actor: actor('agent-7') }))
    expect(d.allow && d.policy).toBe('delegated')
  })

  it('answers a request without an actor only from a policy without actor:', () => {
    const d = evaluate(compiled, request({ sub: 'user-1' }, { audiences: [API] }))
    expect(d.allow && d.policy).toBe('plain')
    const other = evaluate(compiled, request({ sub: 'user-2' }, { audiences: [API] }))
    expect(other.allow).toBe(false)
  })

  it('refuses an actor of the wrong provider or with non-matching claims, and says so in the trace', () => {
    for (const a of [actor('agent-7', 'gha'), actor('agent-8'), actor(7), actor(undefined)]) {
      const d = evaluate(compiled, request({ sub: 'user-1' }, { audiences: [API], actor: a }))
      expect(d.allow).toBe(false)
      const failed = d.trace.flatMap((t) => t.checks.filter((c) => !c.ok).map((c) => c.claim))
      expect(failed.some((c) => c.startsWith('actor'))).toBe(true)
    }
  })

  it('never lets a policy without actor: answer a delegated request, nor one with actor: a plain one', () => {
    const claims = fc.dictionary(fc.constantFrom('sub', 'act', 'x'), fc.jsonValue())
    fc.assert(
      fc.property(
        claims,
        fc.option(fc.record({ provider: fc.constantFrom('gha', 'gitlab'), claims }), { nil: undefined }),
        (subject, a) => {
          const d = evaluate(compiled, request(subject, { audiences: [API], actor: a }))
          if (!d.allow) return
          expect(d.policy).toBe(a === undefined ? 'plain' : 'delegated')
        },
      ),
    )
  })
})

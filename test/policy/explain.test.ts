import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compilePolicies } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import { explain } from '../../lib/policy/explain.js'
import type { Decision, PolicyRequest } from '../../lib/policy/types.js'
import { awsPolicy, buildConfig, request, tokenPolicy } from './build-config.js'

const API = 'https://api.example.com'
const OTHER = 'https://other.example.com'
const ROLE = 'arn:aws:iam::111122223333:role/deploy'
const MAIN = 'repo:acme/app:ref:refs/heads/main'

const compiled = compilePolicies(
  buildConfig([
    tokenPolicy('deploy-api', { sub: MAIN, repository_owner_id: '123456' }, API, ['deploy:write']),
    tokenPolicy('read-other', { repository: { glob: 'acme/*' } }, OTHER, ['read']),
    awsPolicy('deploy-aws', { sub: MAIN, 'job.ref': { regex: 'refs/heads/main' } }, ROLE),
    { ...(tokenPolicy('gitlab-only', { sub: MAIN }) as object), provider: 'gitlab' },
  ]),
)

/** The parts of a decision both functions must agree on (explain carries more trace). */
function outcome(d: Decision) {
  return d.allow
    ? { allow: true, policy: d.policy, grant: d.grant }
    : { allow: false, error: d.error, message: d.message }
}

describe('explain', () => {
  it('traces every policy of the provider, even those not offering the requested audience', () => {
    const { decision, traces } = explain(compiled, request({ sub: MAIN }, { audiences: [API] }))
    expect(decision.allow).toBe(false)
    expect(traces.map((t) => [t.policy, t.subjectMatched, t.targetMatched, t.scopeMatched])).toEqual([
      ['deploy-api', false, true, true],
      ['read-other', false, false, true],
      ['deploy-aws', false, false, true],
    ])
  })

  it('fills in the claim value each check saw, undefined when missing', () => {
    const claims = { sub: MAIN, repository_owner_id: 123456, job: { ref: 'refs/heads/dev' } }
    const { traces } = explain(compiled, request(claims, { audiences: [API] }))
    expect(traces[0]?.checks).toEqual([
      { claim: 'sub', matcher: 'exact', ok: true, reason: undefined, value: MAIN },
      { claim: 'repository_owner_id', matcher: 'exact', ok: false, reason: 'wrong-type', value: 123456 },
    ])
    expect(traces[1]?.checks).toEqual([
      { claim: 'repository', matcher: 'glob', ok: false, reason: 'missing', value: undefined },
    ])
    expect(traces[2]?.checks[1]).toEqual({
      claim: 'job.ref',
      matcher: 'regex',
      ok: false,
      reason: 'no-match',
      value: 'refs/heads/dev',
    })
  })

  it('shows the scope check of a policy that matched everything else', () => {
    const claims = { sub: MAIN, repository_owner_id: '123456' }
    const { decision, traces } = explain(compiled, request(claims, { audiences: [API], scopes: ['admin'] }))
    expect(decision).toMatchObject({ allow: false, error: 'invalid_scope' })
    expect(traces[0]).toMatchObject({ subjectMatched: true, targetMatched: true, scopeMatched: false })
  })

  it('explains an allow and keeps evaluating the later policies', () => {
    const claims = { sub: MAIN, repository_owner_id: '123456', repository: 'acme/app' }
    const { decision, traces } = explain(compiled, request(claims, { audiences: [API] }))
    expect(decision).toMatchObject({ allow: true, policy: 'deploy-api' })
    expect(traces).toHaveLength(3)
    expect(traces[1]).toMatchObject({ subjectMatched: true, targetMatched: false })
  })

  it('has nothing to trace for a provider without policies', () => {
    const { decision, traces } = explain(compiled, { ...request({ sub: MAIN }), provider: 'unknown' })
    expect(decision).toMatchObject({ allow: false, error: 'invalid_target' })
    expect(traces).toEqual([])
  })

  it('reaches the same decision as evaluate for any request', () => {
    const target = fc.constantFrom(API, OTHER, ROLE, 'https://nope')
    const req = fc.record({
      provider: fc.constantFrom('gha', 'gitlab', 'other'),
      claims: fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            sub: fc.constantFrom(MAIN, 'x', 1),
            repository_owner_id: fc.constantFrom('123456', 123456),
            repository: fc.constantFrom('acme/app', 'acme/a/b', ['x', 'acme/y']),
            job: fc.constantFrom({ ref: 'refs/heads/main' }, { ref: 'refs/heads/x' }, null),
          },
          { requiredKeys: [] },
        ),
      ),
      audiences: fc.array(target, { maxLength: 2 }),
      resources: fc.array(target, { maxLength: 2 }),
      scopes: fc.option(fc.array(fc.constantFrom('deploy:write', 'read', 'x'), { maxLength: 2 }), {
        nil: undefined,
      }),
    })
    fc.assert(
      fc.property(req, (r) => {
        const q = r as PolicyRequest
        expect(outcome(explain(compiled, q).decision)).toEqual(outcome(evaluate(compiled, q)))
      }),
      { numRuns: 1000 },
    )
  })
})

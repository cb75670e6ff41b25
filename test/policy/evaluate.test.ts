import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CompiledPolicies, compilePolicies } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import type { Decision, PolicyRequest } from '../../lib/policy/types.js'
import { awsPolicy, buildConfig, request, tokenPolicy } from './build-config.js'

const API = 'https://api.example.com'
const AUDIT = 'https://audit.example.com'
const OTHER = 'https://other.example.com'
const ROLE = 'arn:aws:iam::111122223333:role/deploy'
const MAIN = 'repo:acme/app:ref:refs/heads/main'
const CLAIMS = { sub: MAIN, repository_owner_id: '123456', repository: 'acme/app', ref: 'refs/heads/main' }

const compiled: CompiledPolicies = compilePolicies(
  buildConfig([
    tokenPolicy(
      'deploy-api',
      { sub: MAIN, repository_owner_id: '123456' },
      [API, AUDIT],
      ['deploy:write', 'deploy:read'],
    ),
    tokenPolicy('read-api', { repository: { glob: 'acme/*' } }, API, ['read']),
    awsPolicy('deploy-aws', { sub: MAIN, ref: { regex: 'refs/heads/(main|release/.+)' } }, ROLE),
  ]),
)

function denied(decision: Decision): Extract<Decision, { allow: false }> {
  if (decision.allow) throw new Error(`expected a denial, got an allow by ${decision.policy}`)
  return decision
}
function allowed(decision: Decision): Extract<Decision, { allow: true }> {
  if (!decision.allow) throw new Error(`expected an allow, got ${decision.error}: ${decision.message}`)
  return decision
}

describe('evaluate: allows', () => {
  it('selects the token grant by audience (least privilege: only the requested audience)', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [AUDIT] })))
    expect(d.policy).toBe('deploy-api')
    expect(d.grant).toEqual({
      kind: 'token',
      audience: [AUDIT],
      scopes: ['deploy:write', 'deploy:read'],
      ttl: 600,
    })
  })

  it('grants several audiences when one policy offers them all, in request order, deduplicated', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [AUDIT, API, AUDIT] })))
    expect(d.grant).toMatchObject({ kind: 'token', audience: [AUDIT, API] })
  })

  it('selects the aws grant by resource', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { resources: [ROLE] })))
    expect(d.policy).toBe('deploy-aws')
    expect(d.grant).toEqual({ kind: 'aws', roleArn: ROLE, duration: 900 })
  })

  it('selects the aws grant by audience equal to the role ARN, as by resource', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [ROLE] })))
    expect(d.policy).toBe('deploy-aws')
    expect(d.grant).toEqual({ kind: 'aws', roleArn: ROLE, duration: 900 })
  })

  it('narrows to the requested scopes (deduplicated)', () => {
    const d = allowed(
      evaluate(compiled, request(CLAIMS, { audiences: [API], scopes: ['deploy:read', 'deploy:read'] })),
    )
    expect(d.grant).toMatchObject({ scopes: ['deploy:read'] })
  })

  it('takes the first policy in config order when several grant the request', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [API] })))
    expect(d.policy).toBe('deploy-api')
  })

  it('skips an earlier policy whose scopes do not cover the request', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [API], scopes: ['read'] })))
    expect(d.policy).toBe('read-api')
    expect(d.grant).toMatchObject({ audience: [API], scopes: ['read'] })
  })

  it('without a target, answers when exactly one policy matches the subject, with all it offers', () => {
    const d = allowed(evaluate(compiled, request({ repository: 'acme/tool' })))
    expect(d.policy).toBe('read-api')
    expect(d.grant).toEqual({ kind: 'token', audience: [API], scopes: ['read'], ttl: 600 })
  })

  it('honours grantKinds: aws only, no target, one aws match', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { grantKinds: new Set(['aws'] as const) })))
    expect(d.policy).toBe('deploy-aws')
  })

  it('accepts an explicitly empty scope list as "no scopes"', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { resources: [ROLE], scopes: [] })))
    expect(d.policy).toBe('deploy-aws')
  })

  it('never returns claim values in the trace', () => {
    const d = allowed(evaluate(compiled, request(CLAIMS, { audiences: [API] })))
    for (const t of d.trace) for (const c of t.checks) expect('value' in c).toBe(false)
  })
})

describe('evaluate: denials', () => {
  it('denies an audience no policy offers, naming only the requested audience', () => {
    const d = denied(evaluate(compiled, request(CLAIMS, { audiences: [OTHER] })))
    expect(d).toMatchObject({
      error: 'invalid_target',
      message: `no policy grants audience ${OTHER} to this subject`,
    })
    expect(d.trace).toEqual([])
  })

  it('denies audiences granted only by different policies', () => {
    const split = compilePolicies(
      buildConfig([tokenPolicy('a', { sub: MAIN }, API), tokenPolicy('b', { sub: MAIN }, AUDIT)]),
    )
    const d = denied(evaluate(split, request(CLAIMS, { audiences: [API, AUDIT] })))
    expect(d.error).toBe('invalid_target')
    expect(d.message).toBe(`no policy grants audiences ${API}, ${AUDIT} to this subject`)
  })

  it('denies an audience plus a resource that no single grant offers', () => {
    const d = denied(evaluate(compiled, request(CLAIMS, { audiences: [API], resources: [ROLE] })))
    expect(d.message).toBe(`no policy grants audience ${API} and resource ${ROLE} to this subject`)
  })

  it('denies a subject that matches no policy and records which checks failed', () => {
    const d = denied(
      evaluate(
        compiled,
        request({ ...CLAIMS, sub: 'repo:evil/app', repository: 'evil/app' }, { audiences: [API] }),
      ),
    )
    expect(d.error).toBe('invalid_target')
    expect(d.trace.map((t) => [t.policy, t.subjectMatched, t.targetMatched])).toEqual([
      ['deploy-api', false, true],
      ['read-api', false, true],
    ])
    expect(d.trace[0]?.checks).toEqual([
      { claim: 'sub', matcher: 'exact', ok: false, reason: 'no-match' },
      { claim: 'repository_owner_id', matcher: 'exact', ok: true, reason: undefined },
    ])
  })

  it('denies a claim of the wrong type (number instead of string)', () => {
    const d = denied(
      evaluate(
        compiled,
        request({ ...CLAIMS, repository_owner_id: 123456, repository: 'x' }, { audiences: [AUDIT] }),
      ),
    )
    expect(d.error).toBe('invalid_target')
    expect(d.trace[0]?.checks[1]).toMatchObject({
      claim: 'repository_owner_id',
      ok: false,
      reason: 'wrong-type',
    })
  })

  it('denies a missing claim', () => {
    const { repository_owner_id: _, ...rest } = CLAIMS
    const d = denied(evaluate(compiled, request(rest, { audiences: [AUDIT] })))
    expect(d.trace[0]?.checks[1]).toMatchObject({ reason: 'missing' })
  })

  it('denies scopes beyond the grant with invalid_scope', () => {
    const d = denied(
      evaluate(compiled, request(CLAIMS, { audiences: [API], scopes: ['deploy:write', 'admin'] })),
    )
    expect(d).toMatchObject({ error: 'invalid_scope' })
    expect(d.message).toBe(
      `requested scope 'deploy:write admin' is not granted to this subject for audience ${API}`,
    )
  })

  it('denies any scope on an aws grant', () => {
    const d = denied(evaluate(compiled, request(CLAIMS, { resources: [ROLE], scopes: ['deploy:write'] })))
    expect(d.error).toBe('invalid_scope')
  })

  it('denies without a target when no policy matches', () => {
    const d = denied(evaluate(compiled, request({ sub: 'nobody' })))
    expect(d).toMatchObject({ error: 'invalid_target', message: 'no policy grants anything to this subject' })
  })

  it('denies without a target when several policies match, asking for audience or resource', () => {
    const d = denied(evaluate(compiled, request(CLAIMS)))
    expect(d.error).toBe('invalid_target')
    expect(d.message).toMatch(/several policies match this subject: specify the audience or resource/)
  })

  it('denies without a target when the one match does not cover the scopes', () => {
    const d = denied(evaluate(compiled, request({ repository: 'acme/tool' }, { scopes: ['deploy:write'] })))
    expect(d.error).toBe('invalid_scope')
    expect(d.message).toBe(`requested scope 'deploy:write' is not granted to this subject`)
  })

  it('denies a token audience when only aws grants are allowed', () => {
    const d = denied(
      evaluate(compiled, request(CLAIMS, { audiences: [API], grantKinds: new Set(['aws'] as const) })),
    )
    expect(d.error).toBe('invalid_target')
    expect(d.trace.every((t) => !t.targetMatched)).toBe(true)
    // The old text (no policy grants audience … to this subject) was false: one does, as a token.
    expect(d.message).toBe(
      `audience ${API} is granted to this subject as an access token, not as the AWS credentials that requested_token_type asks for`,
    )
  })

  it('keeps the plain denial when the other-kind grant does not match the subject', () => {
    const d = denied(
      evaluate(
        compiled,
        request(
          { sub: 'someone-else', repository: 'evil/app' },
          { audiences: [API], grantKinds: new Set(['aws'] as const) },
        ),
      ),
    )
    expect(d.message).toBe(`no policy grants audience ${API} to this subject`)
  })

  it('denies an unknown provider', () => {
    const d = denied(evaluate(compiled, { ...request(CLAIMS, { audiences: [API] }), provider: 'gitlab' }))
    expect(d.error).toBe('invalid_target')
    expect(d.trace).toEqual([])
  })

  it('denies glob-injection attempts: / or : across *, a newline before a separator', () => {
    for (const repository of [
      'acme/app/../evil',
      'acme/app\n/evil',
      'evil\nacme/app/x',
      'acme/a:b',
      'acme',
      'Acme/app',
    ]) {
      const d = denied(evaluate(compiled, request({ repository }, { audiences: [API], scopes: ['read'] })))
      expect(d.error).toBe('invalid_target')
    }
  })

  it('denies regex-injection attempts on the aws policy', () => {
    for (const ref of [
      'refs/heads/main\n',
      'x|refs/heads/main',
      'refs/heads/mainx',
      'refs/heads/release/\nx',
      'refs/tags/main',
    ]) {
      const d = denied(evaluate(compiled, request({ ...CLAIMS, ref }, { resources: [ROLE] })))
      expect(d.error).toBe('invalid_target')
    }
  })

  it('keeps hostile requested values out of the message charset and bounded', () => {
    const hostile = `https://x"\n\\${'y'.repeat(500)}\u0000é`
    const d = denied(evaluate(compiled, request(CLAIMS, { audiences: [hostile], scopes: ['a"b'] })))
    expect(d.message).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/)
    expect(d.message.length).toBeLessThan(300)
  })
})

describe('evaluate: prototype-style claim names', () => {
  const proto = compilePolicies(
    buildConfig([
      tokenPolicy('p', { constructor: 'x', toString: { glob: '*' }, 'hasOwnProperty.name': { regex: '.*' } }),
    ]),
  )

  it('never sees inherited members as claims', () => {
    const d = denied(evaluate(proto, request({}, { audiences: [API] })))
    expect(d.trace[0]?.checks.map((c) => c.reason)).toEqual(['missing', 'missing', 'missing'])
  })

  it('matches them only as own claims', () => {
    const claims = JSON.parse('{"constructor":"x","toString":"y","hasOwnProperty":{"name":"z"}}')
    expect(evaluate(proto, request(claims, { audiences: [API] })).allow).toBe(true)
  })
})

describe('evaluate: scaling by index', () => {
  const many = compilePolicies(
    buildConfig([
      ...Array.from({ length: 1000 }, (_, i) =>
        tokenPolicy(`other-${i}`, { sub: MAIN }, `https://svc-${i}.example.com`),
      ),
      ...Array.from({ length: 500 }, (_, i) => ({
        ...(tokenPolicy(`gl-${i}`, { sub: MAIN }, API) as object),
        provider: 'gitlab',
      })),
      tokenPolicy('target', { sub: MAIN }, API),
    ]),
  )

  it('evaluates only the policies offering the requested audience', () => {
    const d = allowed(evaluate(many, request(CLAIMS, { audiences: [API] })))
    expect(d.policy).toBe('target')
    expect(d.trace.map((t) => t.policy)).toEqual(['target'])
  })

  it('evaluates nothing for an audience no policy offers', () => {
    expect(evaluate(many, request(CLAIMS, { audiences: [OTHER] })).trace).toEqual([])
  })

  it('stops a targetless request as soon as it is ambiguous', () => {
    const d = denied(evaluate(many, request(CLAIMS)))
    expect(d.trace).toHaveLength(2)
  })
})

describe('evaluate: properties', () => {
  const names = fc.constantFrom(
    'sub',
    'repository',
    'repository_owner_id',
    'ref',
    'constructor',
    '__proto__',
    'a.b',
  )
  const claims = fc.oneof(fc.jsonValue(), fc.dictionary(names, fc.jsonValue()))
  const target = fc.constantFrom(API, AUDIT, OTHER, ROLE, '', '\n')
  const req = fc.record({
    claims,
    audiences: fc.array(target, { maxLength: 3 }),
    resources: fc.array(target, { maxLength: 2 }),
    scopes: fc.option(fc.array(fc.constantFrom('read', 'deploy:write', 'x'), { maxLength: 3 }), {
      nil: undefined,
    }),
  })

  it('never throws on arbitrary JSON claims and always denies or allows cleanly', () => {
    fc.assert(
      fc.property(req, (r) => {
        const d = evaluate(compiled, { provider: 'gha', ...r, claims: r.claims as PolicyRequest['claims'] })
        if (d.allow) expect(['deploy-api', 'read-api', 'deploy-aws']).toContain(d.policy)
        else expect(['invalid_target', 'invalid_scope']).toContain(d.error)
      }),
      { numRuns: 1000 },
    )
  })

  it('never reveals a policy name, a pattern or a claim value in a denial', () => {
    const secret = fc.constantFrom('zz-secret-1', 'zz-secret-2')
    fc.assert(
      fc.property(secret, secret, (value, other) => {
        const c = compilePolicies(
          buildConfig([
            tokenPolicy('zz-policy', { sub: { regex: 'zz-pattern-.*' }, env: { glob: 'zz-glob-*' } }, API),
          ]),
        )
        for (const extra of [
          { audiences: [API] },
          { audiences: [OTHER] },
          {},
          { audiences: [API], scopes: ['x'] },
        ]) {
          const d = denied(evaluate(c, request({ sub: value, env: other }, extra)))
          expect(d.message).not.toMatch(/zz-/)
        }
      }),
      { numRuns: 20 },
    )
  })
})

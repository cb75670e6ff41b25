import { RE2JS } from 're2js'
import { describe, expect, it, vi } from 'vitest'
import type { Config } from '../../lib/config/schema.js'
import { PolicyCompileError } from '../../lib/errors.js'
import { compilePolicies, policiesOf } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import { awsPolicy, buildConfig, request, tokenPolicy } from './build-config.js'

const ROLE = 'arn:aws:iam::111122223333:role/deploy'

/** Compiles and returns the collected errors as [path, message] pairs. */
function problems(config: Pick<Config, 'providers' | 'policies'>): [readonly (string | number)[], string][] {
  try {
    compilePolicies(config)
  } catch (error) {
    expect(error).toBeInstanceOf(AggregateError)
    const aggregate = error as AggregateError
    expect(aggregate.message).toBe('invalid policies')
    for (const e of aggregate.errors) expect(e).toBeInstanceOf(PolicyCompileError)
    return aggregate.errors.map((e: PolicyCompileError) => [e.path, e.message])
  }
  throw new Error('expected compilePolicies to throw')
}

describe('compilePolicies: valid configs', () => {
  it('compiles and indexes policies by provider in config order', () => {
    const config = buildConfig([
      tokenPolicy('a', { sub: 'x' }),
      { ...(tokenPolicy('b', { sub: 'y' }) as object), provider: 'gitlab' },
      awsPolicy('c', { sub: { glob: 'repo:acme/*' }, ref: { regex: 'refs/heads/(main|dev)' } }, ROLE),
    ])
    const compiled = compilePolicies(config)
    expect(policiesOf(compiled, 'gha').map((p) => p.name)).toEqual(['a', 'c'])
    expect(policiesOf(compiled, 'gitlab').map((p) => p.name)).toEqual(['b'])
    expect(policiesOf(compiled, 'nobody')).toEqual([])
    const c = policiesOf(compiled, 'gha')[1]
    expect(c?.grantKind).toBe('aws')
    expect(c?.targets).toEqual([ROLE])
    expect(c?.checks.map((k) => [k.claim.name, k.kind])).toEqual([
      ['sub', 'glob'],
      ['ref', 'regex'],
    ])
  })

  it('accepts a config without policies', () => {
    expect(policiesOf(compilePolicies(buildConfig([])), 'gha')).toEqual([])
  })

  it('compiles regexes once at load, never while evaluating', () => {
    const compiled = compilePolicies(buildConfig([tokenPolicy('a', { ref: { regex: 'refs/heads/.+' } })]))
    const spy = vi.spyOn(RE2JS, 'compile')
    try {
      for (let i = 0; i < 3; i++) {
        evaluate(compiled, request({ ref: 'refs/heads/main' }, { audiences: ['https://api.example.com'] }))
      }
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })
})

describe('compilePolicies: problems with exact paths', () => {
  it('rejects a policy naming an unknown provider', () => {
    const config = buildConfig([
      tokenPolicy('a', { sub: 'x' }),
      { ...(tokenPolicy('b', { sub: 'x' }) as object), provider: 'nope' },
    ])
    expect(problems(config)).toEqual([[['policies', 1, 'provider'], "unknown provider 'nope'"]])
  })

  it('rejects a duplicate policy name at the later occurrence', () => {
    const config = buildConfig([
      tokenPolicy('a', { sub: 'x' }),
      tokenPolicy('b', { sub: 'y' }),
      tokenPolicy('a', { sub: 'z' }),
    ])
    expect(problems(config)).toEqual([
      [['policies', 2, 'name'], "duplicate policy name 'a' (also policies[0])"],
    ])
  })

  it('rejects an invalid regex with the reason and the claim in the path', () => {
    const config = buildConfig([tokenPolicy('a', { sub: 'x', job_workflow_ref: { regex: 'acme/(ci' } })])
    const [[path, message]] = problems(config) as [[readonly (string | number)[], string]]
    expect(path).toEqual(['policies', 0, 'match', 'job_workflow_ref', 'regex'])
    expect(message).toMatch(/^invalid regex: .*missing closing \)/)
  })

  it('rejects unsupported regex syntax (lookaround, backreferences)', () => {
    const config = buildConfig([tokenPolicy('a', { a: { regex: '(?=x)x' }, b: { regex: '(a)\\1' } })])
    expect(problems(config).map(([p]) => p)).toEqual([
      ['policies', 0, 'match', 'a', 'regex'],
      ['policies', 0, 'match', 'b', 'regex'],
    ])
  })

  it('rejects a glob with three or more consecutive stars', () => {
    const config = buildConfig([tokenPolicy('a', { ref: { glob: 'refs/***' } })])
    expect(problems(config).map(([p]) => p)).toEqual([['policies', 0, 'match', 'ref', 'glob']])
  })

  it('rejects an empty glob even when the schema was bypassed', () => {
    const config = buildConfig([tokenPolicy('a', { ref: { glob: 'x' } })])
    const policy = config.policies[0]!
    const bypassed = { ...config, policies: [{ ...policy, match: { ref: { glob: '' } } }] }
    expect(problems(bypassed)).toEqual([[['policies', 0, 'match', 'ref', 'glob'], 'glob must not be empty']])
  })

  it('keeps a dotted claim name as one path segment', () => {
    const config = buildConfig([tokenPolicy('a', { 'google.compute_engine.project_id': { regex: '[' } })])
    expect(problems(config)[0]?.[0]).toEqual([
      'policies',
      0,
      'match',
      'google.compute_engine.project_id',
      'regex',
    ])
  })

  it('rejects a token grant listing an audience twice', () => {
    const config = buildConfig([tokenPolicy('a', { sub: 'x' }, ['https://a', 'https://b', 'https://a'])])
    expect(problems(config)).toEqual([
      [['policies', 0, 'grant', 'token', 'audience', 2], "audience 'https://a' is listed twice"],
    ])
  })

  it('rejects a grant with no token, aws or github kind when the schema was bypassed', () => {
    const config = buildConfig([tokenPolicy('a', { sub: 'x' })])
    const bypassed = { ...config, policies: [{ ...config.policies[0]!, grant: {} }] }
    expect(problems(bypassed)).toEqual([
      [['policies', 0, 'grant'], 'a grant has exactly one of `token`, `aws` or `github`'],
    ])
  })

  it('collects every problem of every policy in config order', () => {
    const config = buildConfig([
      { ...(tokenPolicy('a', { ref: { glob: '***' } }) as object), provider: 'nope' },
      tokenPolicy('a', { sub: { regex: '(' } }, ['https://x', 'https://x']),
      awsPolicy('c', { sub: 'ok' }, ROLE),
    ])
    expect(problems(config).map(([p]) => p)).toEqual([
      ['policies', 0, 'provider'],
      ['policies', 0, 'match', 'ref', 'glob'],
      ['policies', 1, 'name'],
      ['policies', 1, 'match', 'sub', 'regex'],
      ['policies', 1, 'grant', 'token', 'audience', 1],
    ])
  })
})

import { describe, expect, it } from 'vitest'
import { LineCounter, parse, parseDocument } from 'yaml'
import { type Config, ConfigSchema } from '../../lib/config/schema.js'
import { lintConfig } from '../../lib/policy/lint.js'
import { mayOverlap } from '../../lib/policy/lint-rules-grant.js'
import {
  API,
  codes,
  ISSUER,
  lintParsed,
  lintPolicies,
  lintRaw,
  PROVIDERS,
  policy,
  rawConfig,
  SAFE_GITHUB,
} from './lint-fixture.js'

const only = (rule: string, findings: ReturnType<typeof lintPolicies>) =>
  findings.filter((f) => f.rule === rule)

/** A parsed config with one provider's raw fields replaced (the schema would refuse them). */
function tampered(provider: keyof typeof PROVIDERS, patch: Record<string, unknown>): Config {
  const config = ConfigSchema.parse(rawConfig([], [provider]))
  const first = config.providers[0] as unknown as Record<string, unknown>
  Object.assign(first, patch)
  return config
}

describe('tenant-unpinned (defence in depth over the schema)', () => {
  it.each([
    ['awsIam', { accounts: [] }],
    ['awsEc2', { accounts: undefined }],
    ['awsIam', { accounts: ['*'] }],
    ['azureImds', { subscriptions: [''] }],
    ['gcp', { projects: undefined }],
    ['gcp', { projects: 'acme-prod' }],
  ] as const)('flags %s with %j', (provider, patch) => {
    const f = only('tenant-unpinned', lintParsed(tampered(provider, patch)))
    expect(codes(f)).toEqual(['error:tenant-unpinned'])
    expect(f[0]?.path[0]).toBe('providers')
  })

  it('is clean when the schema-validated pins are present', () => {
    for (const p of ['awsIam', 'awsEc2', 'azureImds', 'gcp', 'github'] as const) {
      expect(only('tenant-unpinned', lintParsed(tampered(p, {})))).toEqual([])
    }
  })
})

describe('audience rules', () => {
  const withAudiences = (audiences: string[] | undefined) => {
    const provider = { ...PROVIDERS.github, audiences }
    if (audiences === undefined) delete (provider as { audiences?: unknown }).audiences
    return lintRaw({ issuer: ISSUER, providers: [provider], policies: [policy('p', 'github', SAFE_GITHUB)] })
  }

  it('warns when a provider sets no audiences', () => {
    const f = withAudiences(undefined)
    expect(codes(f)).toEqual(['warning:audience-missing'])
    expect(f[0]?.message).toContain(ISSUER)
  })

  it.each([
    'sts.amazonaws.com',
    'https://sts.amazonaws.com',
    'api://AzureADTokenExchange',
    'https://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/gh',
    '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/gh',
    'https://github.com/acme',
    'https://github.com/acme/',
    'https://token.actions.githubusercontent.com',
    'https://kubernetes.default.svc.cluster.local',
    'sigstore',
  ])('is an error for the shared default audience %s', (audience) => {
    const f = withAudiences([ISSUER, audience])
    expect(codes(f)).toEqual(['error:audience-shared-default'])
    expect(f[0]?.path).toEqual(['providers', 0, 'audiences', 1])
  })

  it('is clean for an audience unique to the broker', () => {
    expect(withAudiences([ISSUER])).toEqual([])
    expect(withAudiences(['https://github.com/acme/app-deployer-sts'])).toEqual([])
  })
})

describe('ttl-long', () => {
  it('warns for a token ttl and an aws duration over 1h', () => {
    const token = policy('t', 'github', SAFE_GITHUB, {
      grant: { token: { audience: API, scopes: ['a'], ttl: '2h' } },
    })
    const aws = policy('a', 'github', SAFE_GITHUB, {
      grant: { aws: { roleArn: 'arn:aws:iam::111122223333:role/deploy', duration: '12h' } },
    })
    const f = only('ttl-long', lintPolicies(token, aws))
    expect(codes(f)).toEqual(['warning:ttl-long', 'warning:ttl-long'])
    expect(f.map((x) => x.path.slice(3))).toEqual([
      ['token', 'ttl'],
      ['aws', 'duration'],
    ])
  })

  it('is clean at exactly 1h', () => {
    const p = policy('t', 'github', SAFE_GITHUB, { grant: { token: { audience: API, ttl: '1h' } } })
    expect(lintPolicies(p)).toEqual([])
  })
})

describe('overlapping-grant', () => {
  it('reports two policies granting the same scope to overlapping subjects', () => {
    const a = policy('a', 'github', SAFE_GITHUB)
    const b = policy(
      'b',
      'github',
      { ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:ref:refs/heads/*' } },
      {
        allowBroad: 'any branch may deploy to staging',
      },
    )
    const f = only('overlapping-grant', lintPolicies(a, b))
    expect(codes(f)).toEqual(['info:overlapping-grant'])
    expect(f[0]?.message).toContain('"a" and "b"')
    expect(f[0]?.path).toEqual(['policies', 1, 'grant'])
  })

  it('reports the same AWS role granted twice', () => {
    const grant = { aws: { roleArn: 'arn:aws:iam::111122223333:role/deploy' } }
    const f = lintPolicies(
      policy('a', 'github', SAFE_GITHUB, { grant }),
      policy('b', 'github', SAFE_GITHUB, { grant }),
    )
    expect(codes(only('overlapping-grant', f))).toEqual(['info:overlapping-grant'])
  })

  it('is clean for disjoint subjects, different scopes or different providers', () => {
    const a = policy('a', 'github', SAFE_GITHUB)
    const other = policy('b', 'github', { ...SAFE_GITHUB, sub: 'repo:acme/app:ref:refs/heads/dev' })
    expect(lintPolicies(a, other)).toEqual([])
    const scopes = policy('c', 'github', SAFE_GITHUB, {
      grant: { token: { audience: API, scopes: ['read'] } },
    })
    expect(lintPolicies(a, scopes)).toEqual([])
    const gitlab = policy('d', 'gitlab', {
      sub: 'project_path:acme/api:ref_type:branch:ref:main',
      project_id: '4',
    })
    expect(lintPolicies(a, gitlab)).toEqual([])
  })

  it('judges matcher overlap conservatively', () => {
    expect(mayOverlap('x', ['y', 'x'])).toBe(true)
    expect(mayOverlap('42', 42)).toBe(false)
    expect(mayOverlap({ glob: 'a/*' }, 'a/b')).toBe(true)
    expect(mayOverlap({ glob: 'a/*' }, 'b/a')).toBe(false)
    expect(mayOverlap({ glob: 'a/*' }, { regex: 'b/.+' })).toBe(false)
    expect(mayOverlap({ glob: 'a/*' }, { regex: 'a/.+' })).toBe(true)
    expect(mayOverlap({ glob: '*-prod' }, { glob: '*-dev' })).toBe(false)
  })
})

describe('regex-shape', () => {
  const shape = (regex: string) =>
    only('regex-shape', lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, job_workflow_ref: { regex } })))

  it.each(['.*@refs/heads/main', '^.+@refs/heads/main', 'acme/ci/.github/workflows/.*', 'acme/ci/x.yml@.+$'])(
    'warns for the unanchored-looking %s',
    (regex) => {
      const f = shape(regex)
      expect(codes(f)).toEqual(['warning:regex-shape'])
      expect(f[0]?.path.slice(-2)).toEqual(['job_workflow_ref', 'regex'])
    },
  )

  it('warns for an ungrouped top-level alternation', () => {
    const f = shape('acme/ci/a.yml@refs/heads/main|acme/ci/b.yml@refs/heads/main')
    expect(codes(f)).toEqual(['warning:regex-shape'])
    expect(f[0]?.message).toContain('ungrouped alternation')
  })

  it('is clean for grouped alternation and inner wildcards', () => {
    expect(shape('acme/ci/(?:a|b)\\.yml@refs/heads/main')).toEqual([])
    expect(shape('acme/ci/.+@refs/heads/main')).toEqual([])
    expect(shape('acme/ci/[|].yml@refs/heads/main\\.\\*')).toEqual([])
  })
})

describe('unknown-claim and claim-type', () => {
  it('suggests the nearest known claim for a typo', () => {
    const f = lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, repositry: 'acme/app' }))
    expect(codes(f)).toEqual(['warning:unknown-claim'])
    expect(f[0]?.message).toContain('did you mean "repository"?')
    expect(f[0]?.hint).toBe('rename the condition to repository')
  })

  it('flags an unknown claim with no close match, without a suggestion', () => {
    const f = lintPolicies(policy('p', 'kubernetes', { sub: 'system:serviceaccount:a:b', team: 'x' }))
    expect(codes(f)).toEqual(['warning:unknown-claim'])
    expect(f[0]?.message).not.toContain('did you mean')
  })

  it('accepts GitHub custom repository properties and any claim of a generic provider', () => {
    expect(lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, repo_property_team: 'payments' }))).toEqual(
      [],
    )
    expect(lintPolicies(policy('p', 'generic', { sub: 'svc-1', repositry: 'x' }))).toEqual([])
  })

  it('warns when a number or boolean is matched against a string claim', () => {
    const gh = lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, repository_id: 892345671 }))
    expect(codes(gh)).toEqual(['warning:claim-type'])
    expect(gh[0]?.hint).toBe('quote the value in YAML: repository_id: "892345671"')
    const gl = lintPolicies(
      policy('p', 'gitlab', {
        sub: 'project_path:a/b:ref_type:branch:ref:main',
        project_id: '1',
        ref_protected: true,
      }),
    )
    expect(codes(gl)).toEqual(['warning:claim-type'])
  })

  it('is clean for quoted ids and for claims that really are numbers', () => {
    expect(lintPolicies(policy('p', 'github', SAFE_GITHUB))).toEqual([])
    const gl = policy('p', 'gitlab', {
      sub: 'project_path:a/b:ref_type:branch:ref:main',
      project_id: '1',
      runner_id: 7,
    })
    expect(lintPolicies(gl)).toEqual([])
  })
})

describe('invalid-policy and locations', () => {
  it('turns compile errors into located error findings', () => {
    const f = lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, ref: { regex: '(' } }))
    expect(codes(f)).toEqual(['error:invalid-policy'])
    expect(f[0]).toMatchObject({ file: 'test.yaml', path: ['policies', 0, 'match', 'ref', 'regex'] })
    expect(f[0]?.line).toBeGreaterThan(1)
  })

  it('reports a policy naming an unknown provider', () => {
    const raw = rawConfig([{ ...policy('p', 'github', SAFE_GITHUB), provider: 'nope' }], ['github'])
    expect(codes(lintRaw(raw))).toEqual(['error:invalid-policy'])
  })

  it('locates each finding at its YAML key and sorts by position', () => {
    const text = [
      'issuer: https://sts.example.com',
      'providers:',
      '  - name: gha',
      '    kind: oidc',
      '    preset: github-actions',
      'policies:',
      '  - name: p',
      '    provider: gha',
      '    match:',
      '      ref: refs/heads/main',
      '    grant: { token: { audience: https://api.example.com, ttl: 2h } }',
    ].join('\n')
    const config = ConfigSchema.parse(parse(text))
    const lineCounter = new LineCounter()
    const doc = parseDocument(text, { lineCounter })
    const f = lintConfig(config, { file: 'c.yaml', doc, lineCounter })
    expect(f.map((x) => `${x.line}:${x.col}:${x.rule}`)).toEqual([
      '3:5:audience-missing',
      '9:5:identity-unpinned',
      '11:58:ttl-long',
    ])
  })
})

import { describe, expect, it } from 'vitest'
import { codes, lintPolicies, MAIN, policy, SAFE_GITHUB } from './lint-fixture.js'

const only = (rule: string, findings: ReturnType<typeof lintPolicies>) =>
  findings.filter((f) => f.rule === rule)

describe('identity-unpinned', () => {
  it('is an error for a preset policy with no identity claim', () => {
    const f = only('identity-unpinned', lintPolicies(policy('p', 'github', { ref: 'refs/heads/main' })))
    expect(codes(f)).toEqual(['error:identity-unpinned'])
    expect(f[0]?.message).toContain('sub, repository, repository_id, job_workflow_ref')
    expect(f[0]?.path).toEqual(['policies', 0, 'match'])
  })

  it('is a warning for a generic oidc provider', () => {
    const f = only('identity-unpinned', lintPolicies(policy('p', 'generic', { email: 'ci@example.com' })))
    expect(codes(f)).toEqual(['warning:identity-unpinned'])
  })

  it.each([
    ['awsIam', { account: '111122223333' }],
    ['awsEc2', { region: 'eu-west-1' }],
    ['azureImds', { location: 'westeurope' }],
  ] as const)('is a warning for cloud kind %s', (provider, match) => {
    expect(codes(only('identity-unpinned', lintPolicies(policy('p', provider, match))))).toEqual([
      'warning:identity-unpinned',
    ])
  })

  it('is an error for gcp-instance without sub or instance id', () => {
    const f = lintPolicies(policy('p', 'gcp', { 'google.compute_engine.zone': 'europe-west1-b' }))
    expect(codes(only('identity-unpinned', f))).toEqual(['error:identity-unpinned'])
  })

  it('is clean with sub, or with any other identity claim', () => {
    expect(only('identity-unpinned', lintPolicies(policy('p', 'github', SAFE_GITHUB)))).toEqual([])
    expect(only('identity-unpinned', lintPolicies(policy('p', 'awsIam', { role: 'deploy' })))).toEqual([])
    expect(only('identity-unpinned', lintPolicies(policy('p', 'azureImds', { vm_id: 'a-b' })))).toEqual([])
    const gce = lintPolicies(policy('p', 'gcp', { 'google.compute_engine.instance_id': '42' }))
    expect(only('identity-unpinned', gce)).toEqual([])
  })
})

describe('presence-role-unpinned', () => {
  it('warns when a policy relies on the EC2 presence proof without pinning role', () => {
    const f = only('presence-role-unpinned', lintPolicies(policy('p', 'awsEc2Proof', { image_id: 'ami-1' })))
    expect(codes(f)).toEqual(['warning:presence-role-unpinned'])
    expect(f[0]?.message).toContain('named after the instance id')
    expect(f[0]?.path).toEqual(['policies', 0, 'match'])
  })

  it('warns even when instance_id is pinned (the proof, not the document, is what role guards)', () => {
    const f = lintPolicies(policy('p', 'awsEc2Proof', { instance_id: 'i-0123456789abcdef0' }))
    expect(codes(only('presence-role-unpinned', f))).toEqual(['warning:presence-role-unpinned'])
  })

  it('is clean with role pinned, by exact value or by a list', () => {
    for (const role of ['fleet-role', ['fleet-role', 'batch-role']]) {
      expect(only('presence-role-unpinned', lintPolicies(policy('p', 'awsEc2Proof', { role })))).toEqual([])
    }
  })

  it('does not apply without the presence proof, nor to other kinds', () => {
    expect(
      only('presence-role-unpinned', lintPolicies(policy('p', 'awsEc2', { image_id: 'ami-1' }))),
    ).toEqual([])
    expect(
      only('presence-role-unpinned', lintPolicies(policy('p', 'awsIam', { account: '111122223333' }))),
    ).toEqual([])
  })
})

describe('broad-subject', () => {
  const broad = (match: Record<string, unknown>, provider: Parameters<typeof policy>[1] = 'github') =>
    only('broad-subject', lintPolicies(policy('p', provider, match)))

  it.each([
    [{ glob: 'repo:acme/*:*' }, 'any repository of acme'],
    [{ glob: '**' }, 'any subject'],
    [{ glob: '*' }, 'any subject'],
    [{ regex: '.*' }, 'any subject'],
    [{ regex: '.+' }, 'any subject'],
    [{ regex: 'repo:acme/[^/:]+:ref:refs/heads/main' }, 'any repository of acme'],
    [{ glob: 'repo:*/app:ref:refs/heads/main' }, 'any repository'],
    [{ glob: 'repo:acme/app:ref:refs/heads/*' }, 'any branch of acme/app'],
    [{ glob: 'repo:acme/app:ref:refs/tags/*' }, 'any tag of acme/app'],
    [{ regex: 'repo:acme/app:.*' }, 'any branch, tag, environment or pull request of acme/app'],
    [{ glob: 'repo:acme/app:*:*' }, 'any branch, tag, environment or pull request of acme/app'],
    [{ regex: 'repo:acme/app:ref:refs/heads/main|.*' }, 'any subject'],
  ])('flags GitHub sub %j (%s)', (sub, what) => {
    const f = broad({ ...SAFE_GITHUB, repository_id: undefined, sub })
    expect(codes(f)).toEqual(['error:broad-subject'])
    expect(f[0]?.message).toContain(what)
  })

  it.each([
    ['gitlab', { glob: 'project_path:acme/*:ref_type:branch:ref:main' }, 'any project'],
    ['gitlab', { glob: 'project_path:acme/api:ref_type:branch:ref:*' }, 'any branch or tag of acme/api'],
    ['kubernetes', { glob: 'system:serviceaccount:*:deployer' }, 'any namespace'],
    ['kubernetes', { glob: 'system:serviceaccount:payments:*' }, 'any service account of namespace payments'],
    ['awsIam', { glob: 'arn:aws:sts::111122223333:assumed-role/*/*' }, 'any role'],
    ['generic', { glob: '*@example.com' }, 'starts with a wildcard'],
  ] as const)('flags %s sub %j', (provider, sub, what) => {
    const f = broad({ sub }, provider)
    expect(codes(f)).toEqual(['error:broad-subject'])
    expect(f[0]?.message).toContain(what)
  })

  it('flags a wildcard repository claim', () => {
    const f = broad({ repository: { glob: 'acme/*' }, repository_owner_id: '1' })
    expect(codes(f)).toEqual(['error:broad-subject'])
  })

  it('downgrades to info when allowBroad gives a reason', () => {
    const p = policy(
      'org-read',
      'github',
      { sub: { glob: 'repo:acme/*:*' }, repository_owner_id: '1' },
      {
        allowBroad: 'every repository of acme may read the artifact cache',
      },
    )
    const f = only('broad-subject', lintPolicies(p))
    expect(codes(f)).toEqual(['info:broad-subject'])
    expect(f[0]?.message).toContain('acknowledged: every repository of acme')
  })

  it('is clean for narrow patterns', () => {
    expect(broad({ ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:ref:refs/heads/release/*' } })).toEqual([])
    expect(broad({ ...SAFE_GITHUB, sub: { regex: 'repo:acme/app:ref:refs/heads/(?:main|dev)' } })).toEqual([])
    expect(broad({ sub: 'system:serviceaccount:payments:deployer' }, 'kubernetes')).toEqual([])
    expect(broad({ sub: { glob: 'arn:aws:sts::111122223333:assumed-role/deploy/*' } }, 'awsIam')).toEqual([])
    expect(broad({ sub: { glob: 'ci-*' } }, 'generic')).toEqual([])
  })

  it('is clean when an exact condition narrows the wildcard back down', () => {
    const match = {
      sub: { glob: 'repo:acme/*:ref:refs/heads/main' },
      repository_id: '9',
      repository_owner_id: '1',
    }
    expect(broad(match)).toEqual([])
    expect(broad({ ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:*' }, ref: 'refs/heads/main' })).toEqual([])
    const k8s = { sub: { glob: 'system:serviceaccount:*:deployer' }, 'kubernetes.io.namespace': 'payments' }
    expect(broad(k8s, 'kubernetes')).toEqual([])
  })

  it('reports an allowBroad that acknowledges nothing', () => {
    const f = lintPolicies(policy('p', 'github', SAFE_GITHUB, { allowBroad: 'legacy' }))
    expect(codes(f)).toEqual(['info:allow-broad-unused'])
    expect(f[0]?.path).toEqual(['policies', 0, 'allowBroad'])
  })
})

describe('name-without-id', () => {
  const names = (match: Record<string, unknown>, provider: 'github' | 'gitlab' = 'github') =>
    only('name-without-id', lintPolicies(policy('p', provider, match)))

  it('flags a GitHub repository matched by name only', () => {
    const f = names({ repository: 'acme/app', repository_owner_id: '1' })
    expect(codes(f)).toEqual(['warning:name-without-id'])
    expect(f[0]?.message).toContain('repository_id')
  })

  it('flags a GitHub sub naming the repository without repository_id', () => {
    expect(codes(names({ sub: MAIN, repository_owner_id: '1' }))).toEqual(['warning:name-without-id'])
  })

  it('flags the owner named without repository_owner_id', () => {
    const f = names({
      repository_owner: 'acme',
      job_workflow_ref: 'acme/ci/.github/workflows/d.yml@refs/heads/main',
    })
    expect(codes(f)).toEqual(['warning:name-without-id'])
    expect(f[0]?.message).toContain('repository_owner_id')
  })

  it('flags GitLab project_path and namespace_path without ids', () => {
    expect(codes(names({ project_path: 'acme/api' }, 'gitlab'))).toEqual(['warning:name-without-id'])
    expect(codes(names({ sub: 'project_path:acme/api:ref_type:branch:ref:main' }, 'gitlab'))).toEqual([
      'warning:name-without-id',
    ])
    expect(codes(names({ namespace_path: 'acme', project_id: undefined }, 'gitlab'))).toEqual([
      'warning:name-without-id',
    ])
  })

  it('is clean when the ids are pinned', () => {
    expect(names(SAFE_GITHUB)).toEqual([])
    expect(
      names({ sub: 'project_path:acme/api:ref_type:branch:ref:main', project_id: '4' }, 'gitlab'),
    ).toEqual([])
    expect(names({ namespace_path: 'acme', namespace_id: '7', sub: 'x', project_id: '4' }, 'gitlab')).toEqual(
      [],
    )
  })
})

describe('github-pull-request and github-any-environment', () => {
  const forms = (match: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    lintPolicies(policy('p', 'github', match, extra)).filter((f) => f.rule.startsWith('github-'))

  it('flags a sub that is the pull_request form', () => {
    const f = forms({ ...SAFE_GITHUB, sub: 'repo:acme/app:pull_request' })
    expect(codes(f)).toEqual(['warning:github-pull-request'])
  })

  it('flags a pattern admitting pull requests and any environment', () => {
    const f = forms(
      { ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:**' } },
      { allowBroad: 'all refs deploy to dev' },
    )
    expect(codes(f)).toEqual(['warning:github-pull-request', 'warning:github-any-environment'])
  })

  it('flags repo:OWNER/REPO:* (one segment) for pull requests only, not as broad', () => {
    const f = lintPolicies(policy('p', 'github', { ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:*' } }))
    expect(codes(f)).toEqual(['warning:github-pull-request'])
  })

  it('flags environment:* when environment is not pinned', () => {
    const f = forms({ ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:environment:*' } })
    expect(codes(f)).toEqual(['warning:github-any-environment'])
  })

  it('is clean when environment or event is pinned, or the sub is a branch', () => {
    expect(
      forms({ ...SAFE_GITHUB, sub: { glob: 'repo:acme/app:environment:*' }, environment: 'prod' }),
    ).toEqual([])
    expect(forms({ ...SAFE_GITHUB, sub: 'repo:acme/app:pull_request', event_name: 'push' })).toEqual([])
    expect(forms({ ...SAFE_GITHUB, sub: 'repo:acme/app:environment:prod' })).toEqual([])
    expect(forms(SAFE_GITHUB)).toEqual([])
  })
})

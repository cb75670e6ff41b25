import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Config, ConfigSchema } from '../../lib/config/schema.js'
import { compilePolicies } from '../../lib/policy/compile.js'
import { evaluate } from '../../lib/policy/evaluate.js'
import type { Decision, PolicyRequest } from '../../lib/policy/types.js'

const WEB = 'https://github.com/acme'
const CLAIMS = { sub: 'repo:acme/app:ref:refs/heads/main', repository_id: '892342131' }

function githubPolicy(name: string, match: Record<string, unknown>, grant: Record<string, unknown>): unknown {
  return { name, provider: 'gha', match, grant: { github: { app: 'ci-bot', owner: 'acme', ...grant } } }
}

function buildConfig(policies: unknown[]): Config {
  return ConfigSchema.parse({
    issuer: 'https://sts.example.com',
    providers: [{ name: 'gha', kind: 'oidc', issuer: 'https://token.actions.githubusercontent.com' }],
    github: { apps: [{ name: 'ci-bot', appId: '1', privateKey: { kms: 'alias/k' } }] },
    policies,
  })
}

const compiled = compilePolicies(
  buildConfig([
    githubPolicy(
      'build',
      { repository_id: '892342131' },
      { repositories: ['app', 'infra'], permissions: { contents: 'write', pull_requests: 'write' } },
    ),
    githubPolicy(
      'everything-read',
      { repository_id: '892342131' },
      { owner: 'acme-labs', repositories: ['*'], permissions: { contents: 'read' } },
    ),
  ]),
)

const ask = (extra: Partial<PolicyRequest>): Decision =>
  evaluate(compiled, { provider: 'gha', claims: CLAIMS, audiences: [], resources: [], ...extra })

function allowed(d: Decision) {
  if (!d.allow) throw new Error(`expected an allow, got ${d.error}: ${d.message}`)
  return d.grant
}
function denied(d: Decision) {
  if (d.allow) throw new Error(`expected a denial, got an allow by ${d.policy}`)
  return d
}

describe('github grants: selection and narrowing', () => {
  it('the owner URL selects every repository and permission of the grant', () => {
    expect(allowed(ask({ resources: [WEB] }))).toEqual({
      kind: 'github',
      app: 'ci-bot',
      owner: 'acme',
      repositories: ['app', 'infra'],
      permissions: { contents: 'write', pull_requests: 'write' },
    })
  })

  it('a repository URL narrows to that repository', () => {
    expect(allowed(ask({ resources: [`${WEB}/infra`] }))).toMatchObject({ repositories: ['infra'] })
  })

  it('several repository URLs narrow to those; with the owner URL, to the whole grant', () => {
    expect(allowed(ask({ resources: [`${WEB}/infra`, `${WEB}/app`] }))).toMatchObject({
      repositories: ['infra', 'app'],
    })
    expect(allowed(ask({ resources: [`${WEB}/infra`, WEB] }))).toMatchObject({
      repositories: ['app', 'infra'],
    })
  })

  it('scope narrows permissions, at or below the grant level', () => {
    expect(allowed(ask({ resources: [`${WEB}/app`], scopes: ['contents:read'] }))).toMatchObject({
      repositories: ['app'],
      permissions: { contents: 'read' },
    })
  })

  it('a ["*"] grant offers its owner URL (all) and any repository URL of that owner', () => {
    expect(allowed(ask({ resources: ['https://github.com/acme-labs'] }))).toMatchObject({ repositories: '*' })
    expect(allowed(ask({ resources: ['https://github.com/acme-labs/anything'] }))).toMatchObject({
      owner: 'acme-labs',
      repositories: ['anything'],
    })
  })
})

describe('github grants: refusals before any GitHub call', () => {
  it('a repository outside the grant is invalid_target', () => {
    expect(denied(ask({ resources: [`${WEB}/secrets-repo`] })).error).toBe('invalid_target')
  })

  it('another owner, another host, a deeper path, a differently cased owner', () => {
    for (const r of [
      'https://github.com/evil/app',
      'https://github.example.com/acme/app',
      `${WEB}/app/extra`,
      'https://github.com/ACME/app',
      'https://github.com/acme-labs/..',
      'https://github.com/acme-labs/a b',
    ]) {
      expect(denied(ask({ resources: [r] })).error, r).toBe('invalid_target')
    }
  })

  it('a permission above the grant, one it lacks, an undocumented level, malformed scopes', () => {
    for (const scopes of [
      ['contents:admin'],
      ['issues:read'],
      ['workflows:read'],
      ['contents'],
      ['contents:'],
      [':read'],
      ['contents:read', 'contents:write'],
      ['__proto__:read'],
    ]) {
      expect(denied(ask({ resources: [WEB], scopes })).error, scopes.join(' ')).toBe('invalid_scope')
    }
  })

  it('a requested token grant kind does not select a github grant', () => {
    expect(denied(ask({ resources: [WEB], grantKinds: new Set(['token']) })).error).toBe('invalid_target')
  })

  it('a subject that does not match is refused whatever it names', () => {
    const d = evaluate(compiled, {
      provider: 'gha',
      claims: { repository_id: '1' },
      audiences: [],
      resources: [WEB],
    })
    expect(denied(d).error).toBe('invalid_target')
  })

  it('property: a repository URL is allowed exactly when the grant lists it', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/), (repo) => {
        const d = ask({ resources: [`${WEB}/${repo}`] })
        expect(d.allow).toBe(repo === 'app' || repo === 'infra')
      }),
    )
  })

  it('property: arbitrary scope strings never widen the grant', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z_:]{1,20}$/), { minLength: 1, maxLength: 4 }),
        (scopes) => {
          const d = ask({ resources: [WEB], scopes })
          if (!d.allow || d.grant.kind !== 'github') return
          for (const [name, level] of Object.entries(d.grant.permissions)) {
            expect(['contents', 'pull_requests']).toContain(name)
            expect(['read', 'write']).toContain(level)
          }
        },
      ),
    )
  })
})

import { describe, expect, it } from 'vitest'
import type { Config } from '../../lib/config/schema.js'
import { codes, lintParsed, lintRaw, PROVIDERS, rawConfig, SAFE_GITHUB } from './lint-fixture.js'

const APP = { name: 'ci-bot', appId: '123456', privateKey: { kms: 'alias/tessera-github-ci-bot' } }

function githubPolicy(grant: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    name: 'build',
    provider: PROVIDERS.github.name,
    match: SAFE_GITHUB,
    grant: {
      github: {
        app: 'ci-bot',
        owner: 'acme',
        repositories: ['app'],
        permissions: { contents: 'read' },
        ...grant,
      },
    },
    ...extra,
  }
}

const lint = (...policies: Record<string, unknown>[]) =>
  lintRaw({ ...rawConfig(policies, ['github']), github: { apps: [APP] } })

describe('lint: github grants', () => {
  it('a narrow grant lints clean', () => {
    expect(lint(githubPolicy({ permissions: { contents: 'write', pull_requests: 'write' } }))).toEqual([])
  })

  it('["*"] with allowBroad is an info carrying the reason (and not allow-broad-unused)', () => {
    const findings = lint(githubPolicy({ repositories: ['*'] }, { allowBroad: 'org-wide dependency bot' }))
    expect(codes(findings)).toEqual(['info:github-all-repositories'])
    expect(findings[0]?.message).toMatch(/org-wide dependency bot/)
  })

  it('["*"] without allowBroad is an error located on the repositories line', () => {
    const findings = lint(githubPolicy({ repositories: ['*'] }))
    expect(codes(findings)).toEqual(['error:github-all-repositories'])
    expect(findings[0]?.line).toBeGreaterThan(0)
  })

  it.each([
    ['administration', 'write'],
    ['secrets', 'write'],
    ['workflows', 'write'],
    ['organization_administration', 'write'],
    ['organization_projects', 'admin'],
    ['repository_projects', 'admin'],
  ])('%s: %s is a dangerous-permission warning', (name, level) => {
    const findings = lint(githubPolicy({ permissions: { [name]: level } }))
    const expected = name === 'repository_projects' ? [] : ['warning:github-permission-dangerous']
    expect(codes(findings)).toEqual(expected)
  })

  it('administration: read and organization_plan: read are not dangerous', () => {
    expect(
      lint(githubPolicy({ permissions: { administration: 'read', organization_plan: 'read' } })),
    ).toEqual([])
  })

  it('an unknown name or level in a config that bypassed the schema is github-permission-unknown', () => {
    const loaded = lintRaw({ ...rawConfig([githubPolicy({})], ['github']), github: { apps: [APP] } })
    expect(loaded).toEqual([])
    const config = {
      issuer: 'https://sts.example.com',
      providers: [
        { ...PROVIDERS.github, issuer: 'https://token.actions.githubusercontent.com', audiences: [] },
      ],
      github: { apps: [{ ...APP, apiUrl: 'https://api.github.com' }] },
      policies: [
        {
          ...githubPolicy({ permissions: { contents: 'writ', contnets: 'read' } }),
          match: SAFE_GITHUB,
        },
      ],
    } as unknown as Config
    const rules = codes(lintParsed(config))
    expect(rules.filter((r) => r.endsWith('github-permission-unknown'))).toEqual([
      'error:github-permission-unknown',
      'error:github-permission-unknown',
    ])
  })

  it('a grant naming an unconfigured app never reaches lint: the config does not load', () => {
    expect(() =>
      lintRaw({ ...rawConfig([githubPolicy({ app: 'nope' })], ['github']), github: { apps: [APP] } }),
    ).toThrow(/no GitHub App named nope is configured/)
  })
})

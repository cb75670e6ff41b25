import { describe, expect, it } from 'vitest'
import { githubWebUrl } from '../../lib/config/github.js'
import { loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'

const head = `issuer: https://sts.example.com
providers:
  - name: gh
    kind: oidc
    issuer: https://token.actions.githubusercontent.com
`

function yaml(apps: string, grant: string): string {
  return `${head}github:
  apps:
${apps}
policies:
  - name: build
    provider: gh
    match: { repository_id: "892342131" }
    grant:
      github: ${grant}
`
}

const APP = `    - name: ci-bot
      appId: "123456"
      privateKey: { kms: alias/tessera-github-ci-bot }`
const GRANT =
  '{ app: ci-bot, owner: acme, repositories: [app, infra], permissions: { contents: read, pull_requests: write } }'

function problems(text: string): string[] {
  try {
    loadConfigText(text, 'tessera.yaml')
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues]
    throw err
  }
  return []
}

describe('github config: accepted', () => {
  it('loads an app and a grant, defaulting apiUrl to api.github.com', () => {
    const { config } = loadConfigText(yaml(APP, GRANT), 'tessera.yaml')
    expect(config.github?.apps[0]).toEqual({
      name: 'ci-bot',
      appId: '123456',
      privateKey: { kms: 'alias/tessera-github-ci-bot' },
      apiUrl: 'https://api.github.com',
    })
    expect(config.policies[0]?.grant.github).toEqual({
      app: 'ci-bot',
      owner: 'acme',
      repositories: ['app', 'infra'],
      permissions: { contents: 'read', pull_requests: 'write' },
    })
  })

  it('accepts a client ID, a local PEM, a GHES apiUrl and ["*"]', () => {
    const app = `    - name: ghes
      clientId: Iv23liABCDEF
      privateKey: { local: app.pem }
      apiUrl: https://ghe.example.com/api/v3/`
    const { config } = loadConfigText(
      yaml(app, '{ app: ghes, owner: acme, repositories: ["*"], permissions: { contents: read } }'),
      'tessera.yaml',
    )
    expect(config.github?.apps[0]?.apiUrl).toBe('https://ghe.example.com/api/v3')
    expect(config.policies[0]?.grant.github?.repositories).toEqual(['*'])
  })

  it('derives the web URL that resources name from the API URL', () => {
    expect(githubWebUrl('https://api.github.com')).toBe('https://github.com')
    expect(githubWebUrl('https://ghe.example.com/api/v3')).toBe('https://ghe.example.com')
    expect(githubWebUrl('http://127.0.0.1:8123')).toBe('http://127.0.0.1:8123')
  })
})

describe('github config: refused', () => {
  it('a permission level GitHub does not document (contents: writ)', () => {
    const out = problems(
      yaml(APP, '{ app: ci-bot, owner: acme, repositories: [app], permissions: { contents: writ } }'),
    )
    expect(out.join('\n')).toMatch(
      /permissions\.contents: writ is not a level GitHub documents for contents \(read, write\)/,
    )
  })

  it('an unknown permission name, and a level a permission does not have', () => {
    const out = problems(
      yaml(
        APP,
        '{ app: ci-bot, owner: acme, repositories: [app], permissions: { contnets: read, workflows: read } }',
      ),
    )
    expect(out.join('\n')).toMatch(/contnets is not a permission GitHub documents/)
    expect(out.join('\n')).toMatch(/read is not a level GitHub documents for workflows \(write\)/)
  })

  it('a grant naming an app that is not configured', () => {
    const out = problems(
      yaml(APP, '{ app: other-bot, owner: acme, repositories: [app], permissions: { contents: read } }'),
    )
    expect(out.join('\n')).toMatch(/grant\.github\.app: no GitHub App named other-bot is configured/)
  })

  it('a github grant with no github section at all', () => {
    const text = `${head}policies:
  - name: build
    provider: gh
    match: { repository_id: "1" }
    grant:
      github: ${GRANT}
`
    expect(problems(text).join('\n')).toMatch(/no GitHub App named ci-bot is configured/)
  })

  it('an app with both appId and clientId, or neither', () => {
    const both = `    - name: ci-bot
      appId: "1"
      clientId: Iv23liABC
      privateKey: { kms: k }`
    const neither = `    - name: ci-bot
      privateKey: { kms: k }`
    expect(problems(yaml(both, GRANT)).join('\n')).toMatch(/exactly one of `appId` or `clientId`/)
    expect(problems(yaml(neither, GRANT)).join('\n')).toMatch(/exactly one of `appId` or `clientId`/)
  })

  it('a private key that is both or neither, and an unknown key', () => {
    for (const key of ['{ kms: a, local: b }', '{}', '{ file: x.pem }']) {
      const app = `    - name: ci-bot
      appId: "1"
      privateKey: ${key}`
      expect(problems(yaml(app, GRANT)).length).toBeGreaterThan(0)
    }
  })

  it('a plain-http or query-carrying apiUrl off loopback', () => {
    for (const url of ['http://ghe.example.com/api/v3', 'https://ghe.example.com/api/v3?x=1', 'ftp://x']) {
      const app = `${APP}\n      apiUrl: ${url}`
      expect(problems(yaml(app, GRANT)).length, url).toBeGreaterThan(0)
    }
  })

  it('two apps with one name', () => {
    expect(problems(yaml(`${APP}\n${APP}`, GRANT)).join('\n')).toMatch(/duplicate GitHub App name ci-bot/)
  })

  it('bad owners, bad repositories, "*" mixed with names, duplicates, no permissions', () => {
    for (const grant of [
      '{ app: ci-bot, owner: -acme, repositories: [app], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme/x, repositories: [app], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: [../x], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: [".."], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: ["*", app], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: [app, app], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: [], permissions: { contents: read } }',
      '{ app: ci-bot, owner: acme, repositories: [app], permissions: {} }',
      '{ app: ci-bot, owner: acme, repositories: [app] }',
      '{ app: ci-bot, owner: acme, repositories: [app], permissions: { contents: read }, extra: 1 }',
    ]) {
      expect(problems(yaml(APP, grant)).length, grant).toBeGreaterThan(0)
    }
  })

  it('a grant with both token and github', () => {
    const text = yaml(APP, GRANT).replace(
      '    grant:\n',
      '    grant:\n      token: { audience: https://api.example.com }\n',
    )
    expect(problems(text).join('\n')).toMatch(/exactly one of `token`, `aws` or `github`/)
  })
})

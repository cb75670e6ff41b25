import { describe, expect, it } from 'vitest'
import { explainToken } from '../../lib/cli/policy-explain.js'
import { loadConfigText } from '../../lib/config/load.js'

const NOW = 1_700_000_000_000
const CONFIG = loadConfigText(
  `issuer: https://sts.example.com
providers:
  - { name: gha, kind: oidc, preset: github-actions, audiences: [https://sts.example.com] }
github:
  apps:
    - { name: ci-bot, appId: "1", privateKey: { kms: alias/k } }
policies:
  - name: build
    provider: gha
    match: { sub: "repo:acme/app:ref:refs/heads/main", repository_id: "892345671" }
    grant:
      github: { app: ci-bot, owner: acme, repositories: [app, infra], permissions: { contents: read } }
`,
  'explain.yaml',
).config

const b64u = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const token = `${b64u({ alg: 'RS256', kid: 'k' })}.${b64u({
  iss: 'https://token.actions.githubusercontent.com',
  aud: 'https://sts.example.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  repository_id: '892345671',
  iat: NOW / 1000 - 60,
  exp: NOW / 1000 + 240,
})}.c2ln`

const explain = (resources: string[]) =>
  explainToken({ config: CONFIG, token, audiences: [], resources, now: NOW })

describe('policy explain: github grants', () => {
  it('names the owner, repositories, permissions and App of the chosen grant', () => {
    const { text, allowed } = explain(['https://github.com/acme/infra'])
    expect(allowed).toBe(true)
    expect(text).toContain('GitHub acme: app, infra (contents:read, app ci-bot)')
  })

  it('a repository outside the grant is explained as a denial', () => {
    expect(explain(['https://github.com/acme/secrets']).allowed).toBe(false)
    expect(explain(['https://github.com/other']).allowed).toBe(false)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { explainToken } from '../../lib/cli/policy-explain.js'
import { loadConfigText } from '../../lib/config/load.js'
import { alternateGithubSub, hasImmutableOwner, isImmutableSegment } from '../../lib/policy/github-subject.js'
import { codes, lintPolicies, policy } from './lint-fixture.js'

const NAME = 'repo:acme/app:ref:refs/heads/main'
const IMMUTABLE = 'repo:acme-123/app-456:ref:refs/heads/main'
const IDS = { repository: 'acme/app', repository_owner_id: '123', repository_id: '456' }

describe('alternateGithubSub', () => {
  it('turns each form into the other using the token’s own id claims', () => {
    expect(alternateGithubSub({ sub: NAME, ...IDS })).toEqual({ sub: IMMUTABLE, tokenForm: 'name' })
    expect(alternateGithubSub({ sub: IMMUTABLE, ...IDS })).toEqual({ sub: NAME, tokenForm: 'immutable' })
  })

  it('reads the immutable form back to names even without the id claims', () => {
    expect(alternateGithubSub({ sub: 'repo:acme-1/app-2:environment:prod' })).toEqual({
      sub: 'repo:acme/app:environment:prod',
      tokenForm: 'immutable',
    })
  })

  it.each([
    [{ sub: NAME }],
    [{ sub: 'project_path:acme/app:ref_type:branch:ref:main', ...IDS }],
    [{ sub: NAME, ...IDS, repository: 'other/app' }],
    [{ sub: IMMUTABLE, ...IDS, repository_id: '999' }],
    [{ sub: 'repo:acme/app', ...IDS }],
    [{ sub: 'repo::x', ...IDS }],
    [{ sub: 42, ...IDS }],
    [{ sub: NAME, ...IDS, repository: 'noslash' }],
    [{ sub: NAME, ...IDS, repository_id: 456 }],
    [{}],
  ])('gives nothing for %j', (claims) => {
    expect(alternateGithubSub(claims)).toBeUndefined()
  })

  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)
  const id = fc.integer({ min: 1, max: 2 ** 40 }).map(String)
  const context = fc.constantFrom(
    'ref:refs/heads/main',
    'environment:prod',
    'pull_request',
    'ref:refs/tags/v1:x',
  )
  it('is its own inverse (property)', () => {
    fc.assert(
      fc.property(name, name, id, id, context, (owner, repo, ownerId, repoId, ctx) => {
        const claims = { repository: `${owner}/${repo}`, repository_owner_id: ownerId, repository_id: repoId }
        const there = alternateGithubSub({ ...claims, sub: `repo:${owner}/${repo}:${ctx}` })
        expect(there?.sub).toBe(`repo:${owner}-${ownerId}/${repo}-${repoId}:${ctx}`)
        expect(alternateGithubSub({ ...claims, sub: there?.sub })?.sub).toBe(`repo:${owner}/${repo}:${ctx}`)
      }),
    )
  })

  it('never throws on hostile claims (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('sub', 'repository', 'repository_id', 'repository_owner_id'),
          fc.anything(),
        ),
        (claims) => {
          alternateGithubSub(claims)
        },
      ),
    )
  })

  it('recognises the immutable segment shapes', () => {
    expect(isImmutableSegment('acme-123/app-456')).toBe(true)
    expect(isImmutableSegment('acme/app')).toBe(false)
    expect(isImmutableSegment('acme-123/app')).toBe(false)
    expect(isImmutableSegment('acme-x/app-1')).toBe(false)
    expect(hasImmutableOwner('acme-123')).toBe(true)
    expect(hasImmutableOwner('acme')).toBe(false)
  })
})

describe('lint: both sub forms', () => {
  it('a name-form sub without ids is name-without-id', () => {
    expect(codes(lintPolicies(policy('p', 'github', { sub: NAME })))).toContain('warning:name-without-id')
  })

  it('an immutable-form sub pins the owner and repository ids', () => {
    expect(lintPolicies(policy('p', 'github', { sub: IMMUTABLE }))).toEqual([])
  })

  it('both forms listed, with ids, lint clean', () => {
    const match = { sub: [NAME, IMMUTABLE], repository_id: '456', repository_owner_id: '123' }
    expect(lintPolicies(policy('p', 'github', match))).toEqual([])
  })

  it('a name form beside an immutable form still needs the ids', () => {
    expect(codes(lintPolicies(policy('p', 'github', { sub: [NAME, IMMUTABLE] })))).toContain(
      'warning:name-without-id',
    )
  })

  it('an immutable owner with any repository pins the owner, and is still broad', () => {
    const found = codes(
      lintPolicies(policy('p', 'github', { sub: { glob: 'repo:acme-123/*:ref:refs/heads/main' } })),
    )
    expect(found).toContain('error:broad-subject')
    expect(found).not.toContain('warning:name-without-id')
  })

  it('the immutable form pins nothing for other presets', () => {
    const match = { sub: 'project_path:acme-1/app-2:ref_type:branch:ref:main' }
    expect(codes(lintPolicies(policy('p', 'gitlab', match)))).toContain('warning:name-without-id')
  })
})

describe('explain: a denial that is only a difference of form', () => {
  const GITHUB = 'https://token.actions.githubusercontent.com'
  const config = (sub: string) =>
    loadConfigText(
      `issuer: https://sts.example.com
providers:
  - { name: gha, kind: oidc, preset: github-actions, audiences: [https://sts.example.com] }
  - { name: dev, kind: oidc, issuer: https://dev.example.com, audiences: [https://sts.example.com] }
policies:
  - name: deploy
    provider: gha
    match: { sub: "${sub}" }
    grant: { token: { audience: https://api.example.com } }
  - name: dev-deploy
    provider: dev
    match: { sub: "${sub}" }
    grant: { token: { audience: https://api.example.com } }
`,
      'forms.yaml',
    ).config
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const explainSub = (policySub: string, tokenSub: string, iss = GITHUB, ids = IDS) =>
    explainToken({
      config: config(policySub),
      token: `${b64u({ alg: 'RS256' })}.${b64u({ iss, aud: 'https://sts.example.com', sub: tokenSub, ...ids })}.c2ln`,
      audiences: ['https://api.example.com'],
      resources: [],
      now: 0,
    })

  it('an immutable token against a name-form policy', () => {
    const out = explainSub(NAME, IMMUTABLE)
    expect(out.allowed).toBe(false)
    expect(out.text).toContain("only the form differs (the token's sub is in the immutable form")
    expect(out.text).toContain(`only the sub form differs`)
    expect(out.text).toContain(`the same subject as "${NAME}" is allowed`)
  })

  it('a name-form token against an immutable policy', () => {
    const out = explainSub(IMMUTABLE, NAME)
    expect(out.text).toContain(
      "the token's sub is in the name form repo:OWNER/REPO, the policy's in the immutable form",
    )
  })

  it('says nothing of form when the subject differs otherwise', () => {
    const out = explainSub(NAME, 'repo:acme-123/app-456:ref:refs/heads/dev')
    expect(out.allowed).toBe(false)
    expect(out.text).not.toContain('immutable')
  })

  it('says nothing of form for an issuer without the two forms', () => {
    const out = explainSub(NAME, IMMUTABLE, 'https://dev.example.com')
    expect(out.allowed).toBe(false)
    expect(out.text).not.toContain('immutable')
  })

  it('says nothing of form when the token is allowed', () => {
    expect(explainSub(NAME, NAME).text).not.toContain('immutable')
  })
})

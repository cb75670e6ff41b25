import { describe, expect, it } from 'vitest'
import { decodeToken, explainToken } from '../../lib/cli/policy-explain.js'
import { loadConfigText } from '../../lib/config/load.js'

const NOW = 1_700_000_000_000
const NOW_S = NOW / 1000
const GITHUB = 'https://token.actions.githubusercontent.com'

const CONFIG = loadConfigText(
  `issuer: https://sts.example.com
providers:
  - name: gha
    kind: oidc
    preset: github-actions
    audiences: [https://sts.example.com]
  - name: idp
    kind: oidc
    issuer: https://idp.example.com
    audiences: [https://sts.example.com]
  - name: gce
    kind: oidc
    preset: gcp-instance
    audiences: [https://sts.example.com]
    projects: [acme-prod]
policies:
  - name: deploy-main
    provider: gha
    match:
      sub: repo:acme/app:ref:refs/heads/main
      repository_id: "892345671"
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
  - name: deploy-env
    provider: gha
    match:
      sub: { glob: "repo:acme/app:environment:*" }
      environment: [production, staging]
      repository_id: "892345671"
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
  - name: ci-cache
    provider: gha
    match:
      job_workflow_ref: { regex: "acme/ci/\\\\.github/workflows/[a-z]+\\\\.yml@refs/heads/main" }
      run_attempt: 1
    grant:
      token: { audience: https://cache.example.com, scopes: [cache:write], ttl: 10m }
  - name: admins
    provider: idp
    match:
      sub: { glob: "svc-*" }
      groups: admins
      roles: ["42"]
    grant:
      token: { audience: https://admin.example.com, ttl: 10m }
  - name: batch
    provider: gce
    match:
      instance_id: "4721986342123456789"
    grant:
      token: { audience: https://queue.example.com, ttl: 10m }
`,
  'explain.yaml',
).config

const b64u = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function token(
  payload: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' },
) {
  return `${b64u(header)}.${b64u({ iat: NOW_S - 60, exp: NOW_S + 240, ...payload })}.c2ln`
}

function run(payload: Record<string, unknown>, opts: Partial<Parameters<typeof explainToken>[0]> = {}) {
  return explainToken({
    config: CONFIG,
    token: token(payload),
    audiences: [],
    resources: [],
    now: NOW,
    ...opts,
  })
}

const MAIN_CLAIMS = {
  iss: GITHUB,
  aud: 'https://sts.example.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  repository_id: '892345671',
  job_workflow_ref: 'acme/ci/.github/workflows/build.yml@refs/heads/main',
  run_attempt: '1',
}

describe('policy explain output', () => {
  it('shows the chosen policy, exact/glob/any-of/regex checks, missing and wrong-type claims', () => {
    const out = run(MAIN_CLAIMS, { audiences: ['https://api.example.com'] })
    expect(out.allowed).toBe(true)
    expect(out.text).toMatchInlineSnapshot(`
      "token      iss "https://token.actions.githubusercontent.com"
                 sub "repo:acme/app:ref:refs/heads/main"
                 aud "https://sts.example.com" (accepted)
                 exp 2023-11-14T22:17:20.000Z (in 4m)
                 alg "RS256", kid "k1"
      signature  not verified (decoded only; add --verify to check it against the issuer keys)
      provider   gha (oidc, preset github-actions)
      request    audience https://api.example.com

      ✓ policy deploy-main  <- chosen
          ✓ sub            "repo:acme/app:ref:refs/heads/main"
          ✓ repository_id  "892345671"
            grants audience https://api.example.com, scopes deploy:write

      ✗ policy deploy-env  subject does not match
          ✗ sub            "repo:acme/app:ref:refs/heads/main"  no match for glob "repo:acme/app:environment:*"
          ✗ environment    (missing)  missing: the token has no environment claim (wanted any of ["production","staging"])
          ✓ repository_id  "892345671"
            grants audience https://api.example.com, scopes deploy:write

      ✗ policy ci-cache  subject does not match
          ✓ job_workflow_ref  "acme/ci/.github/workflows/build.yml@refs/heads/main"  (regex "acme/ci/\\\\.github/workflows/[a-z]+\\\\.yml@refs/heads/main")
          ✗ run_attempt       "1"  wrong type: wanted a number (1); matching is type-strict
            grants audience https://cache.example.com, scopes cache:write

      (2 policies of other providers not shown)

      decision   allow: policy deploy-main grants audience https://api.example.com, scopes deploy:write
      "
    `)
  })

  it('explains a denial when nothing matches the requested audience', () => {
    const out = run(
      { ...MAIN_CLAIMS, sub: 'repo:acme/app:pull_request' },
      { audiences: ['https://api.example.com'] },
    )
    expect(out.allowed).toBe(false)
    expect(out.text).toContain('✗ policy deploy-main  subject does not match')
    expect(out.text).toContain(
      '✗ sub            "repo:acme/app:pull_request"  no match for "repo:acme/app:ref:refs/heads/main"',
    )
    expect(out.text).toMatch(
      /decision {3}deny \(invalid_target\): no policy grants audience https:\/\/api\.example\.com/,
    )
  })

  it('says when several policies match and no audience was named', () => {
    const claims = { ...MAIN_CLAIMS, run_attempt: 1 }
    const out = run(claims)
    expect(out.allowed).toBe(false)
    expect(out.text).toContain('request    no audience or resource')
    expect(out.text).toContain('matches too (ambiguous without --audience/--resource)')
    expect(out.text).toContain('several policies match this subject')
  })

  it('covers array claims: any string element matches, numbers never match strings', () => {
    const out = run({
      iss: 'https://idp.example.com',
      aud: ['https://other.example.com'],
      sub: 'svc-report',
      groups: ['dev', 'admins'],
      roles: [42],
    })
    expect(out.text).toMatchInlineSnapshot(`
      "token      iss "https://idp.example.com"
                 sub "svc-report"
                 aud ["https://other.example.com"] (array) (NOT accepted: provider idp accepts https://sts.example.com)
                 exp 2023-11-14T22:17:20.000Z (in 4m)
                 alg "RS256", kid "k1"
      signature  not verified (decoded only; add --verify to check it against the issuer keys)
      provider   idp (oidc)
      request    no audience or resource (only an unambiguous match is answered)

      ✗ policy admins  subject does not match
          ✓ sub     "svc-report"  (glob "svc-*")
          ✓ groups  ["dev","admins"] (array)
          ✗ roles   [42] (array)  wrong type: wanted a string (any of ["42"]); matching is type-strict
            grants audience https://admin.example.com

      (4 policies of other providers not shown)

      decision   deny (invalid_target): no policy grants anything to this subject
      "
    `)
  })

  it('flattens google.compute_engine claims for gcp-instance providers, as the verifier does', () => {
    const out = run(
      {
        iss: 'https://accounts.google.com',
        aud: 'https://sts.example.com',
        sub: '1234',
        google: { compute_engine: { instance_id: '4721986342123456789', project_id: 'acme-prod' } },
      },
      { audiences: ['https://queue.example.com'] },
    )
    expect(out.allowed).toBe(true)
    expect(out.text).toContain('✓ instance_id  "4721986342123456789"')
  })

  it('names the trusted issuers when no provider trusts the token', () => {
    const out = run({ iss: 'https://evil.example.com', sub: 'x' })
    expect(out.allowed).toBe(false)
    expect(out.text).toContain('provider   none: no oidc provider trusts issuer "https://evil.example.com"')
    expect(out.text).toContain(
      `trusted issuers: ${GITHUB}, https://idp.example.com, https://accounts.google.com`,
    )
  })

  it('reports expired tokens and failed verification', () => {
    const out = run(
      { ...MAIN_CLAIMS, exp: NOW_S - 7200 },
      { audiences: ['https://api.example.com'], verified: { error: 'subject_token has expired' } },
    )
    expect(out.text).toContain('(expired 2h ago)')
    expect(out.text).toContain('signature  verification FAILED: subject_token has expired')
    expect(out.text).toContain('but the token fails verification')
    expect(out.allowed).toBe(false)
  })

  it('uses verified claims when verification succeeded', () => {
    const out = run(
      { ...MAIN_CLAIMS, repository_id: 'forged' },
      { audiences: ['https://api.example.com'], verified: { claims: MAIN_CLAIMS } },
    )
    expect(out.text).toContain('signature  verified')
    expect(out.allowed).toBe(true)
  })

  it('keeps terminal control characters in claims out of the output', () => {
    const out = run({ ...MAIN_CLAIMS, sub: 'repo:acme/app\u001b]0;pwned\u0007' })
    expect([...out.text].some((c) => c === '\u0007' || c === '\u001b')).toBe(false)
  })

  it('colours only when asked', () => {
    expect(run(MAIN_CLAIMS, { color: true }).text).toContain('\x1b[')
    expect(run(MAIN_CLAIMS).text).not.toContain('\x1b[')
  })
})

describe('decodeToken', () => {
  it.each([
    ['a.b', 'not a signed JWT'],
    ['a.b.c.d.e', 'encrypted'],
    [`${b64u({ alg: 'RS256' })}.bm90IGpzb24.c2ln`, 'payload is not strict JSON'],
    [`${b64u({ alg: 'RS256' })}.${b64u([1])}.c2ln`, 'payload is not a JSON object'],
    [
      `${b64u({ alg: 'RS256' })}.${Buffer.from('{"a":1,"a":2}').toString('base64url')}.c2ln`,
      'member name repeats',
    ],
    [`bnVsbA.${b64u({})}.c2ln`, 'header is not a JSON object'],
  ])('refuses %s', (text, message) => {
    expect(() => decodeToken(text)).toThrow(message)
  })

  it('decodes header and payload without verifying', () => {
    expect(decodeToken(token({ sub: 'x' }, { alg: 'ES256' }))).toEqual({
      header: { alg: 'ES256' },
      payload: { sub: 'x', iat: NOW_S - 60, exp: NOW_S + 240 },
    })
  })
})

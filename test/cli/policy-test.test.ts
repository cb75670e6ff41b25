import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runPolicy } from '../../lib/cli/policy.js'

const ROOT = join(import.meta.dirname, '..', '..')
const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter(
  (f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'),
)

async function run(argv: string[], tty = false) {
  let stdout = ''
  let stderr = ''
  const code = await runPolicy(argv, {
    stdout: { write: (t: string) => (stdout += t), isTTY: tty },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from(['']),
    fetch: () => Promise.reject(new Error('no network in this test')),
    now: () => 1_800_000_000_000,
  })
  return { code, stdout, stderr }
}

const CONFIG = `issuer: https://sts.example.com
providers:
  - name: gha
    kind: oidc
    preset: github-actions
    audiences: [https://sts.example.com]
policies:
  - name: deploy-app
    provider: gha
    match: { sub: "repo:acme/app:ref:refs/heads/main", repository_id: "456", repository_owner_id: "123" }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write] }
`

const MAIN_CLAIMS = `{ sub: "repo:acme/app:ref:refs/heads/main", repository: acme/app, repository_id: "456", repository_owner_id: "123" }`
const IMMUTABLE_CLAIMS = `{ sub: "repo:acme-123/app-456:ref:refs/heads/main", repository: acme/app, repository_id: "456", repository_owner_id: "123" }`

function testFile(...tests: string[]): string {
  return `tests:\n${tests.join('')}`
}

function test(
  name: string,
  claims: string,
  expectation: string,
  request = '{ audience: https://api.example.com }',
): string {
  return `  - name: ${name}\n    provider: gha\n    claims: ${claims}\n    request: ${request}\n    expect: ${expectation}\n`
}

/** A fresh folder with tessera.yaml (CONFIG unless given) and the given files. */
function project(files: Record<string, string>, config = CONFIG): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-policy-test-'))
  writeFileSync(join(dir, 'tessera.yaml'), config)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

const PASSING = testFile(
  test('main may deploy', MAIN_CLAIMS, '{ allow: true, policy: deploy-app }'),
  test(
    'a branch may not',
    MAIN_CLAIMS.replace('heads/main', 'heads/dev'),
    '{ allow: false, error: invalid_target }',
  ),
)

describe('tessera policy test: results', () => {
  it.each(EXAMPLES)('examples/%s passes its own tests', async (name) => {
    const r = await run(['test', join(ROOT, 'examples', name)])
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m)
    expect(r.code).toBe(0)
  })

  it('finds tessera.test.yaml beside the config and closes with the counts', async () => {
    const dir = project({ 'tessera.test.yaml': PASSING })
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r).toEqual({
      code: 0,
      stdout: '✓ main may deploy\n✓ a branch may not\n2 passed, 0 failed\n',
      stderr: '',
    })
  })

  it('prefers <config name>.test.yaml, and --tests searches a folder recursively', async () => {
    const dir = project({
      'prod.test.yaml': PASSING,
      'deep/er/x.test.yaml': testFile(test('deep', MAIN_CLAIMS, '{ allow: true }')),
      'deep/ignored.yaml': 'not: a test file',
    })
    writeFileSync(join(dir, 'prod.yaml'), CONFIG)
    expect((await run(['test', join(dir, 'prod.yaml')])).stdout).toContain('2 passed, 0 failed')
    const all = await run(['test', join(dir, 'prod.yaml'), '--tests', dir])
    expect(all.stdout).toContain('3 passed, 0 failed')
  })

  it('exits 1 on a failure and explains it as policy explain does', async () => {
    const dir = project({
      'tessera.test.yaml': testFile(
        test('dev may deploy', MAIN_CLAIMS.replace('heads/main', 'heads/dev'), '{ allow: true }'),
        test('main may deploy', MAIN_CLAIMS, '{ allow: true, policy: deploy-app }'),
      ),
    })
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`✗ dev may deploy  (${join(dir, 'tessera.test.yaml')}:2)`)
    expect(r.stdout).toContain(
      'expected allow, got deny (invalid_target): no policy grants audience https://api.example.com',
    )
    expect(r.stdout).toContain('✗ policy deploy-app  subject does not match')
    expect(r.stdout).toContain('no match for "repo:acme/app:ref:refs/heads/main"')
    expect(r.stdout).toMatch(/1 passed, 1 failed\n$/)
    expect(r.stdout).not.toContain('\x1b[')
  })

  it('a wrong expected policy, error or scope fails', async () => {
    const dir = project({
      'tessera.test.yaml': testFile(
        test(
          'wrong error',
          MAIN_CLAIMS,
          '{ allow: false, error: invalid_scope }',
          '{ audience: https://other.example.com }',
        ),
        test(
          'denied scope',
          MAIN_CLAIMS,
          '{ allow: true }',
          '{ audience: https://api.example.com, scope: "deploy:write admin" }',
        ),
        test('allowed but expected deny', MAIN_CLAIMS, '{ allow: false }'),
      ),
    })
    const r = await run(['test', join(dir, 'tessera.yaml'), '--format', 'json'])
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({ passed: 0, failed: 3 })
    expect(report.results.map((x: { actual: string }) => x.actual.split(':')[0])).toEqual([
      'deny (invalid_target)',
      'deny (invalid_scope)',
      'allow by policy deploy-app',
    ])
  })

  it('says a denial is only a difference of sub form, with the word immutable', async () => {
    const dir = project({
      'tessera.test.yaml': testFile(
        test('new form', IMMUTABLE_CLAIMS, '{ allow: true, policy: deploy-app }'),
      ),
    })
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain("only the form differs (the token's sub is in the immutable form")
    expect(r.stdout).toContain('only the sub form differs')
  })

  it('does not blame the form for the denial when the ids differ too', async () => {
    const other = IMMUTABLE_CLAIMS.replaceAll('456', '999')
    const dir = project({ 'tessera.test.yaml': testFile(test('other repo', other, '{ allow: true }')) })
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('only the sub form differs')
    expect(r.stdout).toContain('✗ repository_id        "999"  no match for "456"')
  })

  it('prints GitHub annotations for failures and JSON for every result', async () => {
    const dir = project({
      'tessera.test.yaml': testFile(
        test('fails', MAIN_CLAIMS, '{ allow: false }'),
        test('passes', MAIN_CLAIMS, '{ allow: true }'),
      ),
    })
    const gh = await run(['test', join(dir, 'tessera.yaml'), '--format=github'])
    expect(gh.code).toBe(1)
    expect(gh.stdout).toMatch(
      /^::error file=.*tessera\.test\.yaml,line=2,title=policy test::fails: expected deny, got allow/m,
    )
    expect(gh.stdout).not.toContain('passes')
    expect(gh.stdout).toMatch(/1 passed, 1 failed\n$/)
    const json = JSON.parse((await run(['test', join(dir, 'tessera.yaml'), '--format', 'json'])).stdout)
    expect(json.results[0].explanation.length).toBeGreaterThan(0)
    expect(json.results[1]).not.toHaveProperty('explanation')
  })

  it('colours the human format on a TTY only', async () => {
    const dir = project({ 'tessera.test.yaml': PASSING })
    expect((await run(['test', join(dir, 'tessera.yaml')], true)).stdout).toContain('\x1b[32m✓')
  })
})

describe('tessera policy test: bad input exits 2', () => {
  async function bad(tests: string, config = CONFIG) {
    const dir = project({ 'tessera.test.yaml': tests }, config)
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    return r.stderr
  }

  it('names the file, line and test of a schema problem', async () => {
    const text = testFile(
      test('ok', MAIN_CLAIMS, '{ allow: true }'),
      test('typo', MAIN_CLAIMS, '{ allow: true, polcy: x }'),
    )
    const err = await bad(text)
    expect(err).toMatch(/tessera\.test\.yaml:\d+:\d+: tests\[1\]\.expect \(test 'typo'\)/)
    expect(err).toContain('invalid policy test file')
  })

  it.each([
    ['no tests', 'tests: []\n'],
    ['not a mapping', '- name: x\n'],
    ['an unknown top-level key', `${PASSING}extra: 1\n`],
    ['a missing expect', 'tests:\n  - { name: x, provider: gha, claims: { sub: a } }\n'],
    ['allow as a string', testFile(test('x', MAIN_CLAIMS, '{ allow: "true" }'))],
    ['an unknown error code', testFile(test('x', MAIN_CLAIMS, '{ allow: false, error: access_denied }'))],
    ['a policy with allow false', testFile(test('x', MAIN_CLAIMS, '{ allow: false, policy: deploy-app }'))],
    ['claims that are a list', testFile(test('x', '[a]', '{ allow: true }'))],
    ['a __proto__ claim', testFile(test('x', '{ __proto__: 1 }', '{ allow: true }'))],
    ['an unknown request key', testFile(test('x', MAIN_CLAIMS, '{ allow: true }', '{ audiences: [a] }'))],
    ['a duplicated YAML key', 'tests:\n  - name: x\n    name: y\n'],
    ['YAML that does not parse', 'tests: [\n'],
  ])('refuses %s', async (_label, text) => {
    expect(await bad(text)).toContain('tessera.test.yaml')
  })

  it('refuses repeated test names, an unknown provider and an unknown expected policy', async () => {
    expect(
      await bad(
        testFile(test('same', MAIN_CLAIMS, '{ allow: true }'), test('same', MAIN_CLAIMS, '{ allow: true }')),
      ),
    ).toContain("test name 'same' repeats")
    expect(
      await bad(
        testFile(test('x', MAIN_CLAIMS, '{ allow: true }').replace('provider: gha', 'provider: gitlab')),
      ),
    ).toContain("test 'x': provider 'gitlab' is not configured")
    expect(await bad(testFile(test('y', MAIN_CLAIMS, '{ allow: true, policy: deploy-ap }')))).toContain(
      "test 'y': expected policy 'deploy-ap' is not configured",
    )
  })

  it('refuses a config that does not load or breaks a guardrail', async () => {
    expect(await bad(PASSING, 'issuer: https://sts.example.com\nproviders: []\n')).toContain(
      'invalid configuration',
    )
    const guarded = `${CONFIG}guardrails: { maxTtl: 5m }\n`
    expect(await bad(PASSING, guarded)).toContain('beyond guardrail maxTtl 5m')
  })

  it('says where it looked when there is no test file', async () => {
    const dir = project({})
    const r = await run(['test', join(dir, 'tessera.yaml')])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no test file: looked for')
    const empty = await run(['test', join(dir, 'tessera.yaml'), '--tests', dir])
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('no *.test.yaml file under')
    expect((await run(['test', join(dir, 'tessera.yaml'), '--tests', join(dir, 'missing')])).code).toBe(2)
  })

  it.each([[['test', '--format', 'xml']], [['test']], [['test', '--bogus']], [['test', 'a.yaml', 'b.yaml']]])(
    'exits 2 with usage for %j',
    async (argv) => {
      const r = await run(argv)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('tessera policy test [F]')
    },
  )
})

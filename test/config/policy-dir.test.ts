import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfigFile, loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'
import { lintConfig } from '../../lib/policy/lint.js'

const MAIN = (policies = '{ dir: policies }') => `issuer: https://sts.example.com
providers:
  - { name: gha, kind: oidc, preset: github-actions, audiences: [https://sts.example.com] }
policies: ${policies}
`

const policy = (name: string, audience = `https://${name}.example.com`) => `- name: ${name}
  provider: gha
  match: { sub: "repo:acme/${name}:ref:refs/heads/main", repository_id: "1", repository_owner_id: "2" }
  grant:
    token: { audience: ${audience} }
`

/** A folder with tessera.yaml and the given files under it; returns the config path. */
function project(files: Record<string, string>, main = MAIN()): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-policy-dir-'))
  writeFileSync(join(dir, 'tessera.yaml'), main)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return join(dir, 'tessera.yaml')
}

async function refused(path: string): Promise<ConfigError> {
  const err = await loadConfigFile(path).then(
    () => new Error('expected a config error'),
    (e: unknown) => e,
  )
  if (!(err instanceof ConfigError)) throw err
  return err
}

describe('policies: { dir }', () => {
  it('loads every *.yaml of the folder in file-name order, and skips test files', async () => {
    const path = project({
      'policies/b-team.yaml': policy('b1') + policy('b2'),
      'policies/a-team.yaml': policy('a1'),
      'policies/a-team.test.yaml': 'tests: []\n',
      'policies/notes.txt': 'not yaml',
      'policies/empty.yaml': '# nothing yet\n',
      'policies/nested/deep.yaml': policy('deep'),
    })
    const loaded = await loadConfigFile(path)
    expect(loaded.config.policies.map((p) => p.name)).toEqual(['a1', 'b1', 'b2'])
  })

  it('lint locates findings in the policy file that holds them', async () => {
    const path = project({
      'policies/a.yaml': policy('ok'),
      'policies/b.yaml': `${policy('ok2')}- name: loose\n  provider: gha\n  match: { sub: { glob: "repo:acme/*:*" } }\n  grant: { token: { audience: https://x.example.com } }\n`,
    })
    const loaded = await loadConfigFile(path)
    const broad = lintConfig(loaded.config, loaded).find((f) => f.rule === 'broad-subject')
    expect(broad?.file).toBe(join(path, '..', 'policies', 'b.yaml'))
    expect(broad?.line).toBe(8)
  })

  it('refuses a name defined in two files, naming both', async () => {
    const path = project({
      'policies/a.yaml': policy('deploy'),
      'policies/b.yaml': policy('other') + policy('deploy'),
    })
    const err = await refused(path)
    const a = join(path, '..', 'policies', 'a.yaml')
    const b = join(path, '..', 'policies', 'b.yaml')
    expect(err.issues).toEqual([
      `${b}:6:3: policies[2].name: policy name 'deploy' is already defined in ${a}`,
    ])
  })

  it('refuses a name repeated within one file too', async () => {
    expect((await refused(project({ 'policies/a.yaml': policy('x') + policy('x') }))).message).toContain(
      'already defined',
    )
  })

  it('locates a schema problem in its own file', async () => {
    const path = project({
      'policies/a.yaml': policy('fine'),
      'policies/b.yaml': policy('bad').replace('provider: gha', 'provider: gha\n  extra: 1'),
    })
    const err = await refused(path)
    expect(err.issues.join('\n')).toMatch(/policies\/b\.yaml:3:3: policies\[1\]\.extra: unknown key 'extra'/)
  })

  it.each([
    ['a file that is not a list', { 'policies/a.yaml': 'name: x\n' }, /a\.yaml: must be a list of policies/],
    ['a YAML error', { 'policies/a.yaml': '- name: [\n' }, /a\.yaml:\d+:\d+/],
    ['a duplicated key', { 'policies/a.yaml': '- name: x\n  name: y\n' }, /a\.yaml:2:3/],
    ['a missing folder', {}, /cannot read the policies folder/],
  ])('refuses %s, naming the file', async (_label, files, pattern) => {
    expect((await refused(project(files))).message).toMatch(pattern)
  })

  it.each([['{ dir: policies, extra: 1 }'], ['{ dir: "" }'], ['{ dir: 1 }'], ['{ folder: policies }']])(
    'refuses policies: %s',
    async (policies) => {
      await expect(
        loadConfigFile(project({ 'policies/a.yaml': policy('a') }, MAIN(policies))),
      ).rejects.toThrow(ConfigError)
    },
  )

  it('refuses a folder in a config given as text, and explains a non-list policies value', () => {
    expect(() => loadConfigText(MAIN(), 'text.yaml')).toThrow(/need a config file/)
    expect(() => loadConfigText(MAIN('nope'), 'text.yaml')).toThrow(
      /policies must be a list of policies, or \{ dir: <folder> \}/,
    )
  })
})

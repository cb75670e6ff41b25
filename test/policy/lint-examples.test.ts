import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { builtinConfigText } from '../../lib/config/builtin.js'
import { loadConfigFile, loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'
import { lintConfig } from '../../lib/policy/lint.js'

const ROOT = join(import.meta.dirname, '..', '..')
const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter(
  (f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'),
)

/** Each ```yaml block of docs/policies.md preceded by `<!-- lint: X -->`, with its expectation. */
function docBlocks(): { expect: string; yaml: string; line: number }[] {
  const text = readFileSync(join(ROOT, 'docs', 'policies.md'), 'utf8')
  const blocks: { expect: string; yaml: string; line: number }[] = []
  const re = /<!-- lint: ([a-z-]+) -->\n```yaml\n([\s\S]*?)```/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    blocks.push({ expect: m[1] ?? '', yaml: m[2] ?? '', line: text.slice(0, m.index).split('\n').length })
  }
  return blocks
}

describe('documented examples', () => {
  it('ships the four preset examples', () => {
    for (const name of ['github-actions', 'gitlab', 'kubernetes', 'gcp-instance']) {
      expect(EXAMPLES).toContain(`${name}.yaml`)
    }
  })

  it.each(EXAMPLES)('examples/%s loads and lints clean', async (file) => {
    const loaded = await loadConfigFile(join(ROOT, 'examples', file))
    expect(lintConfig(loaded.config, loaded)).toEqual([])
  })

  it('the built-in example config lints clean (serve must start without --config)', () => {
    const loaded = loadConfigText(builtinConfigText('http://127.0.0.1:8787'), 'built-in example')
    expect(lintConfig(loaded.config, loaded)).toEqual([])
  })

  const blocks = docBlocks()
  it('docs/policies.md has a checked example for every rule', () => {
    const rules = new Set(blocks.map((b) => b.expect))
    for (const rule of [
      'clean',
      'config-error',
      'identity-unpinned',
      'broad-subject',
      'name-without-id',
      'presence-role-unpinned',
      'github-pull-request',
      'github-any-environment',
      'audience-missing',
      'audience-shared-default',
      'ttl-long',
      'overlapping-grant',
      'regex-shape',
      'unknown-claim',
      'claim-type',
      'invalid-policy',
      'allow-broad-unused',
      'guardrail-max-ttl',
      'guardrail-audiences',
      'guardrail-aws-roles',
      'guardrail-require-claims',
      'guardrail-require-approval',
    ]) {
      expect(rules, rule).toContain(rule)
    }
    expect(blocks.filter((b) => b.expect === 'clean').length).toBeGreaterThanOrEqual(10)
  })

  it.each(blocks.map((b) => [b.line, b.expect, b.yaml] as const))(
    'docs/policies.md:%i is %s',
    (line, expected, yaml) => {
      const text = `issuer: https://sts.example.com\n${yaml}`
      if (expected === 'config-error') {
        expect(() => loadConfigText(text, `docs:${line}`)).toThrow(ConfigError)
        return
      }
      const loaded = loadConfigText(text, `docs:${line}`)
      const rules = lintConfig(loaded.config, loaded).map((f) => f.rule)
      if (expected === 'clean') expect(rules).toEqual([])
      else expect(rules).toContain(expected)
    },
  )
})

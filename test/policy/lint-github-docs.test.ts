import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfigText } from '../../lib/config/load.js'
import { lintConfig } from '../../lib/policy/lint.js'

const ROOT = join(import.meta.dirname, '..', '..')

/** Each ```yaml block of docs/github.md preceded by `<!-- lint: clean -->`: a whole config. */
function cleanBlocks(): { yaml: string; line: number }[] {
  const text = readFileSync(join(ROOT, 'docs', 'github.md'), 'utf8')
  const out: { yaml: string; line: number }[] = []
  const re = /<!-- lint: clean -->\n```yaml\n([\s\S]*?)```/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push({ yaml: m[1] ?? '', line: text.slice(0, m.index).split('\n').length })
  }
  return out
}

describe('docs/github.md', () => {
  const blocks = cleanBlocks()

  it('has the GitHub Actions and the EC2 build agent worked policies', () => {
    expect(blocks.map((b) => b.yaml).join('\n')).toMatch(/kind: aws-ec2/)
    expect(blocks.map((b) => b.yaml).join('\n')).toMatch(/preset: github-actions/)
  })

  it.each(blocks.map((b) => [b.line, b.yaml] as const))(
    'the config at line %i loads and lints clean',
    (line, yaml) => {
      const loaded = loadConfigText(yaml, `docs/github.md:${line}`)
      expect(lintConfig(loaded.config, loaded)).toEqual([])
    },
  )
})

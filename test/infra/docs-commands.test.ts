import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// `npx tessera` where this project is not installed downloads and runs an unrelated npm package
// of that name; every command the docs show must stay on this checkout's own CLI.
const ROOT = join(import.meta.dirname, '..', '..')
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
  ...readdirSync(join(ROOT, 'examples'))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join('examples', f)),
]

/** Each `npx [flags…] tessera` in the text, as written, that lacks `--no-install`. */
function unsafeNpxCalls(text: string): string[] {
  const calls = text.match(/\bnpx((?:\s+-[\w-]+(?:=\S+)?)*)\s+tessera\b/g) ?? []
  return calls.filter((call) => !/\s--no-install\b/.test(call))
}

describe('documented commands never reach another project’s npm package', () => {
  it('README, docs and examples call the CLI as npx --no-install tessera', () => {
    const offenders = DOCS.flatMap((file) =>
      unsafeNpxCalls(readFileSync(join(ROOT, file), 'utf8')).map((call) => `${file}: ${call}`),
    )
    expect(offenders).toEqual([])
  })

  it('the README quick start says why', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    expect(readme).toContain('npx --no-install tessera dev-token')
    expect(readme).toMatch(/unrelated npm package/)
  })

  it('finds the unsafe forms', () => {
    for (const bad of [
      'npx tessera exchange',
      'run `npx tessera`',
      'npx --yes tessera serve',
      'npx -y tessera',
      'npx  --quiet\ttessera x',
      'npx --package=tessera tessera',
    ])
      expect(unsafeNpxCalls(bad)).toEqual([expect.stringContaining('tessera')])
  })

  it('accepts the safe forms and other packages', () => {
    for (const ok of [
      'npx --no-install tessera exchange',
      'npx --quiet --no-install tessera',
      'node bin/tessera.js serve',
      'npx osls package',
      'npx tsx scripts/bundle.ts',
      'npx tesseract',
      '@tessera-sts/tessera',
    ])
      expect(unsafeNpxCalls(ok)).toEqual([])
  })
})

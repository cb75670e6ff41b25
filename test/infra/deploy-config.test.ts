import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfigText } from '../../lib/config/load.js'
import { loadConfigJson } from '../../lib/config/load-json.js'
import { writeDeployConfig } from '../../scripts/bundle.js'

// scripts/bundle.ts installs the reviewed YAML as tessera.json (read at cold start, no YAML parser).
const root = mkdtempSync(join(tmpdir(), 'tessera-deploy-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const CONFIG = `issuer: https://sts.example.com
signing: { algorithm: ES256, key: { kms: alias/tessera-prod-blue } }
store: { dynamodb: { table: tessera-prod-state } }
defaults: &aud [https://sts.example.com]
providers:
  - { name: gh, kind: oidc, preset: github-actions, audiences: *aud }
policies:
  - name: deploy
    provider: gh
    match: { repository: acme/app, repository_id: "1", ref: { glob: "refs/heads/*" } }
    grant: { token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m } }
`

function write(name: string, text: string): string {
  const file = join(root, name)
  writeFileSync(file, text)
  return file
}

describe('writeDeployConfig', () => {
  it('installs tessera.json giving the same config as the YAML, and the YAML next to it', async () => {
    const yaml = CONFIG.replace('defaults: &aud [https://sts.example.com]\n', '').replace(
      '*aud',
      '[https://sts.example.com]',
    )
    const file = write('ok.yaml', yaml)
    const dirs = [join(root, 'a'), join(root, 'b')]
    for (const d of dirs) mkdirSync(d)
    expect(await writeDeployConfig(file, dirs)).toBe('tessera.json')
    for (const d of dirs) {
      const json = readFileSync(join(d, 'tessera.json'), 'utf8')
      expect(loadConfigJson(json, 'tessera.json').config).toEqual(loadConfigText(yaml, 'x.yaml').config)
      expect(readFileSync(join(d, 'tessera.yaml'), 'utf8')).toBe(yaml)
    }
  })

  it('embeds a policy folder and a guardrails file in tessera.json', async () => {
    const project = join(root, 'split')
    mkdirSync(join(project, 'policies'), { recursive: true })
    const policies = CONFIG.slice(CONFIG.indexOf('policies:\n') + 'policies:\n'.length).replace(/^ {2}/gm, '')
    writeFileSync(join(project, 'policies', 'team.yaml'), policies)
    writeFileSync(join(project, 'guardrails.yaml'), 'maxTtl: 1h\n')
    const main = CONFIG.slice(0, CONFIG.indexOf('policies:\n'))
      .replace('defaults: &aud [https://sts.example.com]\n', '')
      .replace('*aud', '[https://sts.example.com]')
    const file = join(project, 'tessera.yaml')
    writeFileSync(file, `${main}policies: { dir: policies }\nguardrails: { file: guardrails.yaml }\n`)
    const out = join(project, 'out')
    mkdirSync(out)
    await writeDeployConfig(file, [out])
    const config = loadConfigJson(readFileSync(join(out, 'tessera.json'), 'utf8'), 'tessera.json').config
    expect(config.policies.map((p) => p.name)).toEqual(['deploy'])
    expect(config.guardrails?.maxTtl).toBe(3600)
  })

  it('refuses an unknown top-level key before writing anything', async () => {
    const dir = join(root, 'c')
    mkdirSync(dir)
    await expect(writeDeployConfig(write('bad.yaml', CONFIG), [dir])).rejects.toThrow(/defaults/)
    expect(() => readFileSync(join(dir, 'tessera.json'))).toThrow()
  })

  it('refuses a local signing key (Lambda signs with KMS only)', async () => {
    const file = write(
      'local.yaml',
      CONFIG.replace('{ kms: alias/tessera-prod-blue }', '{ local: k.json }')
        .replace('defaults: &aud [https://sts.example.com]\n', '')
        .replace('*aud', '[https://sts.example.com]'),
    )
    await expect(writeDeployConfig(file, [])).rejects.toThrow(/must be KMS keys/)
  })

  it('refuses a YAML syntax error', async () => {
    await expect(writeDeployConfig(write('syntax.yaml', 'issuer: [unclosed\n'), [])).rejects.toThrow()
  })

  it('refuses a missing file', async () => {
    await expect(writeDeployConfig(join(root, 'nope.yaml'), [])).rejects.toThrow(/cannot read/)
  })
})

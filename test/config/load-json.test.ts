import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { compileConfigPolicies } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { loadConfigJson } from '../../lib/config/load-json.js'
import { ConfigError } from '../../lib/errors.js'

// The JSON loader is what a Lambda cold start uses (scripts/bundle.ts converts the YAML at build
// time): same schema, same cross-checks, path-only locations.
const YAML = `issuer: https://sts.example.com
signing: { algorithm: ES256, keys: [{ kms: alias/blue, active: true }, { kms: alias/green }] }
store: { dynamodb: { table: tessera-prod-state } }
providers:
  - { name: gh, kind: oidc, preset: github-actions, audiences: [https://sts.example.com], maxTokenAge: 15m }
policies:
  - name: deploy
    provider: gh
    match:
      repository: acme/app
      repository_id: "123456789"
      ref: { glob: "refs/heads/release/*" }
      job_workflow_ref: { regex: "acme/ci/.+@refs/heads/main" }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
`
const asJson = (yaml: string) => JSON.stringify(parse(yaml))
const raw = () => parse(YAML) as Record<string, unknown> & { providers: Record<string, unknown>[] }

function issuesOf(text: string): string[] {
  try {
    compileConfigPolicies(loadConfigJson(text, 'tessera.json'))
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues]
    throw err
  }
  return []
}

describe('loadConfigJson', () => {
  it('gives exactly the config the YAML loader gives (defaults, durations, presets)', () => {
    const loaded = loadConfigJson(asJson(YAML), 'tessera.json')
    expect(loaded.config).toEqual(loadConfigText(YAML, 'tessera.yaml').config)
    expect(loaded.file).toBe('tessera.json')
    expect(loaded.locatePath).toBeUndefined()
    expect(compileConfigPolicies(loaded).all).toHaveLength(1)
  })

  it('rejects text that is not JSON, naming the file', () => {
    expect(issuesOf('issuer: https://sts.example.com')).toEqual([
      expect.stringMatching(/^tessera\.json: invalid JSON: /),
    ])
  })

  it('rejects an empty document', () => {
    expect(issuesOf('')[0]).toMatch(/^tessera\.json: invalid JSON/)
  })

  it('rejects a document that is not an object, with the root path', () => {
    expect(issuesOf('[]')[0]).toMatch(/^tessera\.json: \(root\): /)
  })

  it('rejects unknown keys with their path (no line numbers)', () => {
    const issues = issuesOf(JSON.stringify({ ...raw(), extra: 1 }))
    expect(issues).toHaveLength(1)
    expect(issues[0]).toBe("tessera.json: extra: unknown key 'extra'")
  })

  it('rejects a schema error deep in the tree with its path', () => {
    const doc = raw()
    doc.providers[0] = { ...doc.providers[0], maxTokenAge: '15 minutes' }
    expect(issuesOf(JSON.stringify(doc))).toEqual([
      expect.stringMatching(/^tessera\.json: providers\[0\]\.maxTokenAge: /),
    ])
  })

  it('runs the cross-checks: duplicate provider names', () => {
    const doc = raw()
    doc.providers.push({ ...doc.providers[0], issuer: 'https://other.example.com' })
    expect(issuesOf(JSON.stringify(doc))).toEqual([
      "tessera.json: providers[1].name: duplicate provider name 'gh'",
    ])
  })

  it("runs the cross-checks: a provider trusting Tessera's own issuer", () => {
    const doc = raw()
    doc.providers[0] = { ...doc.providers[0], issuer: 'https://sts.example.com' }
    expect(issuesOf(JSON.stringify(doc))).toContain(
      "tessera.json: providers[0].issuer: a provider cannot trust Tessera's own issuer",
    )
  })

  it('reports policy compile errors (bad regex) with the path only', () => {
    const issues = issuesOf(asJson(YAML.replace('acme/ci/.+@refs/heads/main', '(unclosed')))
    expect(issues).toEqual([
      expect.stringMatching(/^tessera\.json: policies\[0\]\.match\.job_workflow_ref\.regex: invalid regex/),
    ])
  })

  it('the YAML loader still gives line:col for the same policy compile error', () => {
    let issues: readonly string[] = []
    try {
      compileConfigPolicies(loadConfigText(YAML.replace('acme/ci/.+@refs/heads/main', '(unclosed'), 'c.yaml'))
    } catch (err) {
      issues = (err as ConfigError).issues
    }
    expect(issues).toEqual([
      expect.stringMatching(/^c\.yaml:\d+:\d+: policies\[0\]\.match\.job_workflow_ref\.regex: /),
    ])
  })
})

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { compileConfigPolicies } from '../../lib/broker.js'
import { loadConfigFile, loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'

const BASE = `issuer: https://sts.example.com
providers:
  - name: gh
    kind: oidc
    issuer: https://token.actions.githubusercontent.com
    audiences: [https://sts.example.com]
policies:
  - name: deploy
    provider: gh
    match: { sub: "repo:acme/app:ref:refs/heads/main" }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
`

function problems(yaml: string): string[] {
  try {
    const loaded = loadConfigText(yaml, 'tessera.yaml')
    compileConfigPolicies(loaded)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues]
    throw err
  }
  return []
}

describe('config loading: YAML that would not mean what it says', () => {
  it('an alias bomb is a ConfigError naming the file, not a bare error', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (const n of ['b', 'c', 'd', 'e', 'f']) {
      const prev = levels.at(-1)?.[0] as string
      levels.push(`${n}: &${n} [${Array.from({ length: 10 }, () => `*${prev}`).join(', ')}]`)
    }
    const found = problems(`${levels.join('\n')}\n${BASE}`)
    expect(found.join('\n')).toMatch(/^tessera\.yaml: .*alias/im)
  })

  it('keys that collide once converted (1 and "1") are duplicates', () => {
    const yaml = BASE.replace(
      'match: { sub: "repo:acme/app:ref:refs/heads/main" }',
      'match: { 1: a, "1": b }',
    )
    expect(problems(yaml).join('\n')).toMatch(/tessera\.yaml:\d+:\d+: .*(unique|duplicate)/i)
  })

  it('an unresolved custom tag is an error, not a warning', () => {
    const yaml = BASE.replace('ttl: 10m', 'ttl: !duration 10m')
    expect(problems(yaml).join('\n')).toMatch(/tessera\.yaml:\d+:\d+: .*tag/i)
  })

  it('a "__proto__" session tag key is refused instead of silently dropped', () => {
    const yaml = BASE.replace(
      '      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }',
      '      aws: { roleArn: "arn:aws:iam::111122223333:role/x", sessionTags: { "__proto__": "{{sub}}" } }',
    )
    expect(problems(yaml).join('\n')).toMatch(/__proto__.*session tag key/)
  })

  it('a config file over 1 MiB is refused before it is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-big-'))
    try {
      const file = join(dir, 'big.yaml')
      writeFileSync(file, `${BASE}# ${'x'.repeat(1024 * 1024)}\n`)
      const err = await loadConfigFile(file).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect(String((err as ConfigError).issues)).toMatch(/larger than 1048576 bytes/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('config loading', () => {
  it('loads a valid config with defaults filled in', () => {
    const { config } = loadConfigText(BASE, 'tessera.yaml')
    expect(config.signing).toEqual({ algorithm: 'ES256', key: { local: '.tessera/signing-key.json' } })
    expect(config.store).toEqual({ memory: {} })
    const [p] = config.providers
    expect(p).toMatchObject({
      algorithms: ['RS256', 'ES256'],
      replay: 'allow',
      clockTolerance: 30,
      jwksCacheTtl: 600,
    })
    expect(config.policies[0]?.grant.token?.ttl).toBe(600)
  })

  it('parses durations in every unit', () => {
    const yaml = BASE.replace('ttl: 10m', 'ttl: 900s').replace(
      'audiences:',
      'maxTokenAge: 1h\n    audiences:',
    )
    const { config } = loadConfigText(yaml, 'f')
    expect(config.policies[0]?.grant.token?.ttl).toBe(900)
    expect(config.providers[0]).toMatchObject({ maxTokenAge: 3600 })
  })

  it('fills preset defaults', () => {
    const yaml = BASE.replace(
      '    issuer: https://token.actions.githubusercontent.com\n',
      '    preset: github-actions\n',
    )
    const { config } = loadConfigText(yaml, 'f')
    expect(config.providers[0]).toMatchObject({
      issuer: 'https://token.actions.githubusercontent.com',
      algorithms: ['RS256'],
    })
  })

  it.each([
    ['an unknown top-level key', BASE.replace('issuer:', 'isser: x\nissuer:'), 'isser', 'isser'],
    [
      'an unknown policy key (typo)',
      BASE.replace('    match:', '    matches: {}\n    match:'),
      'policies[0].matches',
      'matches',
    ],
    ['a ttl over 12h', BASE.replace('ttl: 10m', 'ttl: 13h'), 'policies[0].grant.token.ttl', '12h'],
    [
      'a malformed duration',
      BASE.replace('ttl: 10m', 'ttl: 10 minutes'),
      'policies[0].grant.token.ttl',
      'duration',
    ],
    [
      'a fractional duration',
      BASE.replace('ttl: 10m', 'ttl: 1.5h'),
      'policies[0].grant.token.ttl',
      'duration',
    ],
    [
      'a plain-http issuer on a public host',
      BASE.replace('https://token.actions', 'http://token.actions'),
      'providers[0].issuer',
      'https',
    ],
    [
      'a plain-http broker issuer',
      BASE.replace('issuer: https://sts.example.com', 'issuer: http://sts.example.com'),
      'issuer',
      'https',
    ],
    [
      'an issuer with a query',
      BASE.replace('githubusercontent.com\n', 'githubusercontent.com?x=1\n'),
      'providers[0].issuer',
      'query',
    ],
    [
      'an issuer with an empty query',
      BASE.replace('githubusercontent.com\n', 'githubusercontent.com/?\n'),
      'providers[0].issuer',
      'query',
    ],
    [
      'an issuer with a tab the URL parser would strip',
      BASE.replace('https://token.actions', '"https://token.act\\tions').replace(
        'githubusercontent.com\n',
        'githubusercontent.com"\n',
      ),
      'providers[0].issuer',
      'whitespace',
    ],
    [
      'an issuer with backslashes',
      BASE.replace('https://token.actions', 'https:\\\\token.actions'),
      'providers[0].issuer',
      'backslash',
    ],
    [
      'a broker issuer with a leading space',
      BASE.replace('issuer: https://sts.example.com', 'issuer: " https://sts.example.com"'),
      'issuer',
      'whitespace',
    ],
    [
      'an issuer with credentials',
      BASE.replace('https://token.actions', 'https://u:p@token.actions'),
      'providers[0].issuer',
      'credentials',
    ],
    ['an unknown provider kind', BASE.replace('kind: oidc', 'kind: saml'), 'providers[0].kind', ''],
    [
      'the alg none',
      BASE.replace('    audiences:', '    algorithms: [none]\n    audiences:'),
      'providers[0].algorithms[0]',
      '',
    ],
    [
      'an HMAC algorithm',
      BASE.replace('    audiences:', '    algorithms: [HS256]\n    audiences:'),
      'providers[0].algorithms[0]',
      '',
    ],
    [
      'a policy with an unknown provider',
      BASE.replace('provider: gh', 'provider: gitlab'),
      'policies[0].provider',
      'gitlab',
    ],
    [
      'an invalid regex',
      BASE.replace(
        'match: { sub: "repo:acme/app:ref:refs/heads/main" }',
        'match: { sub: { regex: "repo:(acme" } }',
      ),
      'policies[0].match.sub.regex',
      '',
    ],
    [
      'an invalid glob',
      BASE.replace(
        'match: { sub: "repo:acme/app:ref:refs/heads/main" }',
        'match: { ref: { glob: "refs/***" } }',
      ),
      'policies[0].match.ref.glob',
      '',
    ],
    [
      'an empty match',
      BASE.replace('match: { sub: "repo:acme/app:ref:refs/heads/main" }', 'match: {}'),
      'policies[0].match',
      '',
    ],
    [
      'a grant with both kinds',
      BASE.replace(
        '      token:',
        '      aws: { roleArn: "arn:aws:iam::111122223333:role/x" }\n      token:',
      ),
      'policies[0].grant',
      'exactly one',
    ],
    [
      'an invalid scope token',
      BASE.replace('scopes: [deploy:write]', 'scopes: ["deploy write"]'),
      'policies[0].grant.token.scopes[0]',
      'scope',
    ],
    [
      'a provider trusting the broker itself',
      BASE.replace('issuer: https://token.actions.githubusercontent.com', 'issuer: https://sts.example.com'),
      'providers[0].issuer',
      'own issuer',
    ],
    [
      'an unquoted account id',
      BASE.replace(
        'providers:\n',
        'providers:\n  - { name: lam, kind: aws-iam, accounts: [111122223333] }\n',
      ),
      'providers[0].accounts[0]',
      '',
    ],
    [
      'a gcp-instance provider made reusable (replay: allow)',
      BASE.replace(
        'providers:\n',
        'providers:\n  - { name: gce, kind: oidc, preset: gcp-instance, projects: [acme], replay: allow }\n',
      ),
      'providers[0].replay',
      'single use',
    ],
    [
      'a session policy over 2,048 characters',
      BASE.replace(
        '      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }',
        `      aws: { roleArn: "arn:aws:iam::111122223333:role/x", sessionPolicy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::${'b'.repeat(2100)}" }] } }`,
      ),
      'policies[0].grant.aws.sessionPolicy',
      'at most 2048',
    ],
    [
      'signing with both key and keys',
      BASE.replace(
        'providers:',
        'signing: { key: { local: a }, keys: [{ local: b, active: true }] }\nproviders:',
      ),
      'signing',
      'exactly one',
    ],
    [
      'rotation without an active key',
      BASE.replace('providers:', 'signing: { keys: [{ local: a }, { local: b }] }\nproviders:'),
      'signing.keys',
      'active',
    ],
  ])('rejects %s, naming the path', (_, yaml, path, words) => {
    const issues = problems(yaml)
    expect(issues.length).toBeGreaterThan(0)
    const hit = issues.find((i) => i.includes(` ${path}: `) || i.includes(`: ${path}: `))
    expect(hit, issues.join('\n')).toBeDefined()
    expect(hit).toMatch(/^tessera\.yaml:\d+:\d+: /)
    expect(hit?.toLowerCase()).toContain(words.toLowerCase())
  })

  it('rejects duplicate names and duplicate issuers', () => {
    const dup = `${BASE}  - name: deploy
    provider: gh
    match: { sub: x }
    grant: { token: { audience: a } }
`
    expect(problems(dup).join('\n')).toContain('policies[1].name')
    const twoProviders = BASE.replace(
      'policies:',
      `  - name: gh
    kind: oidc
    issuer: https://token.actions.githubusercontent.com
policies:`,
    )
    const issues = problems(twoProviders).join('\n')
    expect(issues).toContain('duplicate provider name')
    expect(issues).toContain('already used by provider')
  })

  it('rejects YAML syntax errors and duplicate keys with a location', () => {
    expect(problems('issuer: [unclosed')[0]).toMatch(/^tessera\.yaml:\d+:\d+: /)
    expect(problems(`${BASE}issuer: https://other.example.com\n`).join('\n')).toMatch(
      /tessera\.yaml:\d+:\d+: .*(unique|duplicate)/i,
    )
  })

  it('allows plain http for loopback issuers only', () => {
    const yaml = BASE.replace('https://token.actions.githubusercontent.com', 'http://127.0.0.1:9000')
    expect(problems(yaml)).toEqual([])
    expect(
      problems(BASE.replace('https://token.actions.githubusercontent.com', 'http://10.0.0.1:9000')).length,
    ).toBe(1)
  })
})

describe('config loading: fail-closed corner cases', () => {
  it('rejects a __proto__ claim condition instead of silently dropping it', () => {
    const yaml = BASE.replace(
      'match: { sub: "repo:acme/app:ref:refs/heads/main" }',
      'match: { __proto__: x, sub: "repo:acme/app:ref:refs/heads/main" }',
    )
    expect(problems(yaml).join('\n')).toContain('__proto__')
  })
})

describe('config loading: an unknown key is reported at its own line', () => {
  const withTypo = `issuer: https://sts.example.com
providers:
  - name: gh
    kind: oidc
    issuer: https://token.actions.githubusercontent.com
    audiences: [https://sts.example.com]
    algorithms: [RS256]
    replays: once
`

  it('points at the misspelt key, not at the first line of its object', () => {
    expect(problems(withTypo)).toEqual(["tessera.yaml:8:5: providers[0].replays: unknown key 'replays'"])
  })

  it('reports each unknown key of one object on its own line', () => {
    const two = `${withTypo}    maxAge: 5m\n`
    expect(problems(two)).toEqual([
      "tessera.yaml:8:5: providers[0].replays: unknown key 'replays'",
      "tessera.yaml:9:5: providers[0].maxAge: unknown key 'maxAge'",
    ])
  })

  it('at the top level too', () => {
    expect(problems(`${BASE}polices: []\n`)).toEqual(["tessera.yaml:13:1: polices: unknown key 'polices'"])
  })
})

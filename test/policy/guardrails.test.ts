import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { compileConfigPolicies, createBroker } from '../../lib/broker.js'
import { lintStartupCheck } from '../../lib/cli/policy.js'
import { loadConfigFile, loadConfigText } from '../../lib/config/load.js'
import { type Config, ConfigSchema } from '../../lib/config/schema.js'
import { ConfigError } from '../../lib/errors.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import { guardrailViolations } from '../../lib/policy/guardrails.js'
import { lintConfig } from '../../lib/policy/lint.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { codes, lintRaw, policy, rawConfig, SAFE_GITHUB } from './lint-fixture.js'

const ROLE = 'arn:aws:iam::111122223333:role/deploy-app'

/** Violations of a config given raw, validated by the real schema. */
function violations(guardrails: unknown, ...policies: Record<string, unknown>[]) {
  const config = ConfigSchema.parse({ ...rawConfig(policies, ['github', 'gitlab']), guardrails })
  return guardrailViolations(config).map((v) => `${v.rule}: ${v.message}`)
}

/** Violations of a policy whose grant the schema does not know yet (github, approval). */
function violationsOfGrant(guardrails: unknown, grant: Record<string, unknown>, match = SAFE_GITHUB) {
  const config = ConfigSchema.parse({ ...rawConfig([policy('p', 'github', match)], ['github']), guardrails })
  const patched: Config = {
    ...config,
    policies: config.policies.map((p) => ({ ...p, grant: grant as never })),
  }
  return guardrailViolations(patched).map((v) => `${v.rule}: ${v.message}`)
}

const tokenGrant = (
  ttl = '10m',
  audience: unknown = 'https://api.example.com',
  scopes = ['deploy:write'],
) => ({
  grant: { token: { audience, scopes, ttl } },
})
const awsGrant = (roleArn = ROLE, duration = '15m') => ({ grant: { aws: { roleArn, duration } } })

describe('guardrail maxTtl', () => {
  it('refuses a token ttl or AWS duration beyond it, naming policy, guardrail and value', () => {
    expect(violations({ maxTtl: '1h' }, policy('long', 'github', SAFE_GITHUB, tokenGrant('2h')))).toEqual([
      "guardrail-max-ttl: policy 'long' grants a ttl of 2h, beyond guardrail maxTtl 1h",
    ])
    expect(violations({ maxTtl: '30m' }, policy('aws', 'github', SAFE_GITHUB, awsGrant(ROLE, '1h')))).toEqual(
      ["guardrail-max-ttl: policy 'aws' grants a duration of 1h, beyond guardrail maxTtl 30m"],
    )
  })

  it('admits a grant at or under it', () => {
    expect(violations({ maxTtl: '1h' }, policy('a', 'github', SAFE_GITHUB, tokenGrant('1h')))).toEqual([])
    expect(violations({ maxTtl: '1h' }, policy('b', 'github', SAFE_GITHUB, awsGrant(ROLE, '15m')))).toEqual(
      [],
    )
  })
})

describe('guardrail audiences', () => {
  const guard = { audiences: ['https://api.example.com', 'https://*.internal.example.com'] }

  it('admits exact and glob matches', () => {
    expect(
      violations(
        guard,
        policy('a', 'github', SAFE_GITHUB, tokenGrant('10m', 'https://logs.internal.example.com')),
      ),
    ).toEqual([])
    expect(violations(guard, policy('b', 'github', SAFE_GITHUB))).toEqual([])
  })

  it.each([
    'https://api.example.com.evil.com',
    'https://a.b.internal.example.com/x',
    'https://evil.com/https://api.example.com',
    'https://API.example.com',
  ])('refuses %s', (audience) => {
    expect(violations(guard, policy('a', 'github', SAFE_GITHUB, tokenGrant('10m', audience)))).toEqual([
      `guardrail-audiences: policy 'a' grants audience ${audience}, beyond guardrail audiences`,
    ])
  })

  it('checks every audience of a list', () => {
    const list = ['https://api.example.com', 'https://evil.example.net']
    expect(violations(guard, policy('a', 'github', SAFE_GITHUB, tokenGrant('10m', list)))).toHaveLength(1)
  })
})

describe('guardrail awsRoles', () => {
  const guard = { awsRoles: ['arn:aws:iam::111122223333:role/deploy-*'] }
  it('admits a role matching a glob', () => {
    expect(violations(guard, policy('a', 'github', SAFE_GITHUB, awsGrant()))).toEqual([])
  })
  it.each([
    'arn:aws:iam::111122223333:role/admin',
    'arn:aws:iam::444455556666:role/deploy-app',
    'arn:aws:iam::111122223333:role/deploy-x/nested',
  ])('refuses %s', (role) => {
    expect(violations(guard, policy('a', 'github', SAFE_GITHUB, awsGrant(role)))).toEqual([
      `guardrail-aws-roles: policy 'a' grants role ${role}, beyond guardrail awsRoles`,
    ])
  })
})

describe('guardrail github', () => {
  const guard = { github: { owners: ['Acme'], maxPermissions: { contents: 'write', pull_requests: 'read' } } }
  const github = (owner: string, permissions: Record<string, string>) => ({
    github: { app: 'ci-bot', owner, repositories: ['app'], permissions },
  })

  it('admits an owner (case-insensitively) and permissions at or below the ceiling', () => {
    expect(violationsOfGrant(guard, github('acme', { contents: 'read', pull_requests: 'read' }))).toEqual([])
    expect(violationsOfGrant(guard, github('ACME', { contents: 'write' }))).toEqual([])
  })

  it('refuses another owner', () => {
    expect(violationsOfGrant(guard, github('evil', { contents: 'read' }))).toEqual([
      "guardrail-github-owners: policy 'p' grants repositories of owner evil, beyond guardrail github.owners",
    ])
  })

  it('refuses a level above the ceiling, a permission it does not list, and an unknown level', () => {
    expect(
      violationsOfGrant(
        guard,
        github('acme', { contents: 'admin', workflows: 'read', pull_requests: 'writ' }),
      ),
    ).toEqual([
      "guardrail-github-permissions: policy 'p' grants GitHub permission contents:admin, beyond guardrail github.maxPermissions (contents: write)",
      "guardrail-github-permissions: policy 'p' grants GitHub permission workflows:read, beyond guardrail github.maxPermissions (workflows not allowed)",
      "guardrail-github-permissions: policy 'p' grants GitHub permission pull_requests:writ, beyond guardrail github.maxPermissions (pull_requests: read)",
    ])
  })

  it('does not let a __proto__ or toString permission slip past the ceiling', () => {
    expect(violationsOfGrant(guard, github('acme', { toString: 'read', constructor: 'read' }))).toHaveLength(
      2,
    )
  })
})

describe('guardrail requireClaims', () => {
  it('admits a policy pinning the claims exactly (literal or list), by provider or preset name', () => {
    expect(
      violations({ requireClaims: { gha: ['repository_id'] } }, policy('a', 'github', SAFE_GITHUB)),
    ).toEqual([])
    expect(
      violations(
        { requireClaims: { 'github-actions': ['repository_owner_id'] } },
        policy('a', 'github', { ...SAFE_GITHUB, repository_owner_id: ['1', '2'] }),
      ),
    ).toEqual([])
  })

  it('refuses a policy that does not pin a required claim, or pins it with a pattern', () => {
    const { repository_owner_id: _drop, ...noOwner } = SAFE_GITHUB
    expect(
      violations(
        { requireClaims: { 'github-actions': ['repository_owner_id'] } },
        policy('a', 'github', noOwner),
      ),
    ).toEqual([
      "guardrail-require-claims: policy 'a' does not pin repository_owner_id exactly, beyond guardrail requireClaims.github-actions",
    ])
    const globbed = { ...SAFE_GITHUB, repository_id: { glob: '8923*' } }
    expect(
      violations({ requireClaims: { gha: ['repository_id'] } }, policy('b', 'github', globbed)),
    ).toHaveLength(1)
  })

  it('counts an exact immutable-form sub as pinning the owner and repository ids', () => {
    const match = { sub: 'repo:acme-1234567/app-892345671:ref:refs/heads/main' }
    expect(
      violations(
        { requireClaims: { gha: ['repository_id', 'repository_owner_id'] } },
        policy('a', 'github', match),
      ),
    ).toEqual([])
    const nameForm = { sub: 'repo:acme/app:ref:refs/heads/main' }
    expect(
      violations({ requireClaims: { gha: ['repository_id'] } }, policy('b', 'github', nameForm)),
    ).toHaveLength(1)
    const pattern = { sub: { glob: 'repo:acme-1234567/app-892345671:*' } }
    expect(
      violations({ requireClaims: { gha: ['repository_id'] } }, policy('c', 'github', pattern)),
    ).toHaveLength(1)
  })

  it('only applies to the named provider or preset', () => {
    expect(violations({ requireClaims: { gl: ['project_id'] } }, policy('a', 'github', SAFE_GITHUB))).toEqual(
      [],
    )
  })

  it('refuses a key that names neither a provider nor a preset (a typo would disable it)', () => {
    const raw = {
      ...rawConfig([policy('a', 'github', SAFE_GITHUB)], ['github']),
      guardrails: { requireClaims: { 'github-action': ['repository_id'] } },
    }
    expect(() => loadConfigText(stringify(raw), 'g.yaml')).toThrow(
      /guardrails\.requireClaims\.github-action: 'github-action' names neither a provider nor a preset/,
    )
  })
})

describe('guardrail requireApproval', () => {
  const guard = { requireApproval: { scopes: ['deploy:*', 'administration:*'] } }

  it('refuses a grant offering a matching scope without approval', () => {
    expect(violations(guard, policy('a', 'github', SAFE_GITHUB))).toEqual([
      "guardrail-require-approval: policy 'a' grants scope deploy:write without approval, beyond guardrail requireApproval",
    ])
    const github = {
      github: { app: 'x', owner: 'acme', repositories: ['app'], permissions: { administration: 'write' } },
    }
    expect(violationsOfGrant(guard, github)).toHaveLength(1)
  })

  it('admits the grant with approval, and grants without a matching scope', () => {
    const token = { audience: 'https://api.example.com', scopes: ['deploy:write'], ttl: 600 }
    expect(violationsOfGrant(guard, { token, approval: { approvers: { policy: 'secops' } } })).toEqual([])
    expect(
      violations(
        guard,
        policy('b', 'github', SAFE_GITHUB, tokenGrant('10m', 'https://api.example.com', ['read'])),
      ),
    ).toEqual([])
  })
})

describe('guardrails in the config', () => {
  const beyond = () => ({
    ...rawConfig([policy('long', 'github', SAFE_GITHUB, tokenGrant('2h'))], ['github']),
    guardrails: { maxTtl: '1h' },
  })

  it('policy lint reports a guardrail-* error at the policy', () => {
    const findings = lintRaw(beyond())
    expect(codes(findings)).toContain('error:guardrail-max-ttl')
    const f = findings.find((x) => x.rule === 'guardrail-max-ttl')
    expect(f?.line).toBeGreaterThan(1)
    expect(f?.message).toContain('beyond guardrail maxTtl 1h')
  })

  it('serve and the functions refuse to start with it', async () => {
    const loaded = loadConfigText(stringify(beyond()), 'beyond.yaml')
    expect(lintStartupCheck(loaded).errors).toEqual([
      expect.stringMatching(/^beyond\.yaml:\d+:\d+: guardrail-max-ttl: /),
    ])
    expect(() => compileConfigPolicies(loaded)).toThrow(ConfigError)
    const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    await expect(
      createBroker(loaded, {
        table: new MemoryTable(),
        keys: { active: signer, publicKeys: [signer.publicJwk] },
      }),
    ).rejects.toThrow(
      /policies\[0\]\.grant\.token\.ttl: policy 'long' grants a ttl of 2h, beyond guardrail maxTtl 1h/,
    )
  })

  it('a compliant config lints clean', () => {
    const raw = {
      ...rawConfig([policy('ok', 'github', SAFE_GITHUB)], ['github']),
      guardrails: { maxTtl: '1h', audiences: ['https://api.example.com'] },
    }
    expect(lintRaw(raw)).toEqual([])
  })

  it('reads guardrails from their own file, relative to the config, and locates problems there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-guardrails-'))
    const raw = { ...beyond(), guardrails: { file: 'security/guardrails.yaml' } }
    writeFileSync(join(dir, 'tessera.yaml'), stringify(raw))
    mkdirSync(join(dir, 'security'))
    writeFileSync(join(dir, 'security', 'guardrails.yaml'), 'maxTtl: 1h\n')
    const loaded = await loadConfigFile(join(dir, 'tessera.yaml'))
    expect(loaded.config.guardrails?.maxTtl).toBe(3600)
    expect(codes(lintConfig(loaded.config, loaded))).toContain('error:guardrail-max-ttl')
    writeFileSync(join(dir, 'security', 'guardrails.yaml'), '# owned by secops\nmaxTtl: 1 hour\n')
    await expect(loadConfigFile(join(dir, 'tessera.yaml'))).rejects.toThrow(
      /security\/guardrails\.yaml:2:1: guardrails\.maxTtl/,
    )
  })

  it.each([
    [{ maxTtel: '1h' }],
    [{ audiences: [] }],
    [{ audiences: ['https://***.example.com'] }],
    [{ github: { maxPermissions: { contents: 'writ' } } }],
    [{ requireApproval: { scopes: [] } }],
    [{ file: 'a.yaml', maxTtl: '1h' }],
    [{ file: 'missing.yaml' }],
  ])('refuses malformed guardrails %j', (guardrails) => {
    const raw = { ...rawConfig([policy('ok', 'github', SAFE_GITHUB)], ['github']), guardrails }
    expect(() => loadConfigText(stringify(raw), 'g.yaml', { baseDir: tmpdir() })).toThrow(ConfigError)
  })

  it('refuses guardrails: { file } in a config given as text (no folder to resolve it from)', () => {
    const raw = { ...rawConfig([], ['github']), guardrails: { file: 'g.yaml' } }
    expect(() => loadConfigText(stringify(raw), 'g.yaml')).toThrow(/need a config file/)
  })
})

describe('guardrail globs (property)', () => {
  // `*` is a glob character: a literal guardrail has none.
  const url = fc.webUrl().filter((u) => !u.includes('*'))
  it('a literal audience guardrail admits exactly that audience', () => {
    fc.assert(
      fc.property(url, url, (allowed, asked) => {
        const found = violations(
          { audiences: [allowed] },
          policy('a', 'github', SAFE_GITHUB, tokenGrant('10m', asked)),
        )
        expect(found.length === 0).toBe(allowed === asked)
      }),
      { numRuns: 50 },
    )
  })
})

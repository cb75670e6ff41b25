import { describe, expect, it } from 'vitest'
import { loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'

/** An agent policy with `approval` (and optionally `actor`), and an approvers policy. */
function config(approval: string, extra = '', approvers = APPROVERS) {
  return `issuer: https://sts.example.com
providers:
  - name: agents
    kind: oidc
    issuer: https://agents.example.com
  - name: corp-sso
    kind: oidc
    issuer: https://sso.example.com
  - name: lambda
    kind: aws-iam
    accounts: ["111122223333"]
policies:
  - name: agent-prod-logs
    provider: agents
    match: { sub: agent-7 }
    grant:
      token: { audience: https://logs.example.com, scopes: [logs:read], ttl: 15m }
${approval
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
${extra}
${approvers}
`
}

const APPROVERS = `  - name: secops
    provider: corp-sso
    match: { groups: secops }
    grant: { token: { audience: https://sts.example.com, scopes: ["tessera:approve"], ttl: 1h } }`

function problems(yaml: string): string {
  try {
    loadConfigText(yaml, 'tessera.yaml')
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.join('\n')
    throw err
  }
  return ''
}

const grantOf = (yaml: string) => loadConfigText(yaml, 'tessera.yaml').config.policies[0]?.grant

describe('config: approval on a grant', () => {
  it('fills the defaults (one approval, 10 minutes, no webhook)', () => {
    expect(grantOf(config('approval: { approvers: { policy: secops } }'))?.approval).toEqual({
      approvers: { policy: 'secops' },
      minApprovals: 1,
      timeout: 600,
    })
  })

  it('reads minApprovals, timeout and an https or loopback webhook', () => {
    const yaml = config(
      'approval: { approvers: { policy: secops }, minApprovals: 2, timeout: 30s, notify: { webhook: https://hooks.example.com/t } }',
    )
    expect(grantOf(yaml)?.approval).toEqual({
      approvers: { policy: 'secops' },
      minApprovals: 2,
      timeout: 30,
      notify: { webhook: 'https://hooks.example.com/t' },
    })
    const local = config(
      'approval: { approvers: { policy: secops }, notify: { webhook: "http://127.0.0.1:9/h" } }',
    )
    expect(problems(local)).toBe('')
  })

  it.each([
    ['timeout: 0s', /between 1s and 1d/],
    ['timeout: 25h', /between 1s and 1d/],
    ['timeout: 10', /timeout/],
    ['minApprovals: 0', /minApprovals/],
    ['minApprovals: 1.5', /minApprovals/],
    ['notify: { webhook: "http://hooks.example.com/t" }', /https/],
    ['notify: { webhook: "https://u:p@hooks.example.com/t" }', /credentials/],
    ['notify: { webhook: https://hooks.example.com/t, secret: x }', /secret/],
    ['approverz: x', /approverz/],
  ])('refuses %s', (option, message) => {
    expect(problems(config(`approval: { approvers: { policy: secops }, ${option} }`))).toMatch(message)
  })

  it('refuses an approval without approvers', () => {
    expect(problems(config('approval: { minApprovals: 1 }'))).toMatch(/approvers/)
  })

  it('refuses approvers naming a policy that does not exist', () => {
    expect(problems(config('approval: { approvers: { policy: nobody } }'))).toMatch(
      /approvers\.policy: no policy named nobody is configured/,
    )
  })

  it('refuses a policy approving its own requests', () => {
    expect(problems(config('approval: { approvers: { policy: agent-prod-logs } }'))).toMatch(
      /its own requests/,
    )
  })

  it('refuses approvers whose policy does not mint tessera:approve tokens for this broker', () => {
    const noScope = APPROVERS.replace('"tessera:approve"', 'x:y')
    expect(problems(config('approval: { approvers: { policy: secops } }', '', noScope))).toMatch(
      /does not grant scope tessera:approve/,
    )
    const elsewhere = APPROVERS.replace(
      'audience: https://sts.example.com',
      'audience: https://other.example.com',
    )
    expect(problems(config('approval: { approvers: { policy: secops } }', '', elsewhere))).toMatch(
      /with audience https:\/\/sts\.example\.com/,
    )
  })

  it('refuses approvers whose policy mints for an actor (an agent would decide for its human)', () => {
    const delegated = APPROVERS.replace(
      '    match: { groups: secops }\n',
      '    match: { groups: secops }\n    actor: { provider: agents, match: { sub: agent-7 } }\n',
    )
    expect(delegated).toContain('actor:')
    expect(problems(config('approval: { approvers: { policy: secops } }', '', delegated))).toMatch(
      /approvers\.policy: policy secops has an actor/,
    )
  })
})

describe('config: actor on a policy', () => {
  const withActor = (actor: string) =>
    config('approval: { approvers: { policy: secops } }').replace(
      '    match: { sub: agent-7 }\n',
      `    match: { sub: agent-7 }\n    actor: ${actor}\n`,
    )

  it('reads provider and match', () => {
    const yaml = withActor('{ provider: agents, match: { sub: { glob: "agent-*" } } }')
    expect(loadConfigText(yaml, 't.yaml').config.policies[0]?.actor).toEqual({
      provider: 'agents',
      match: { sub: { glob: 'agent-*' } },
    })
  })

  it.each([
    ['{ provider: nobody, match: { sub: a } }', /no provider named nobody/],
    ['{ provider: lambda, match: { sub: a } }', /kind oidc/],
    ['{ provider: agents, match: {} }', /at least one claim/],
    ['{ provider: agents }', /match/],
    ['{ match: { sub: a } }', /provider/],
    ['{ provider: agents, match: { sub: a }, extra: 1 }', /extra/],
  ])('refuses actor %s', (actor, message) => {
    expect(problems(withActor(actor))).toMatch(message)
  })
})

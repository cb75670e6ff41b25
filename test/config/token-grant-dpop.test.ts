import { describe, expect, it } from 'vitest'
import { compileConfigPolicies } from '../../lib/broker.js'
import { loadConfigText } from '../../lib/config/load.js'
import { ConfigError } from '../../lib/errors.js'
import { evaluate } from '../../lib/policy/evaluate.js'

const config = (dpop: string) => `issuer: https://sts.example.com
providers:
  - name: gh
    kind: oidc
    issuer: https://token.actions.githubusercontent.com
    audiences: [https://sts.example.com]
policies:
  - name: deploy
    provider: gh
    match: { sub: main }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write]${dpop} }
`

function grantOf(dpop: string) {
  const decision = evaluate(compileConfigPolicies(loadConfigText(config(dpop), 'f.yaml')), {
    provider: 'gh',
    claims: { sub: 'main' },
    audiences: ['https://api.example.com'],
    resources: [],
  })
  if (!decision.allow) throw new Error('expected an allow')
  return decision.grant
}

describe('token grant option dpop', () => {
  it('resolves `dpop: required` into the grant', () => {
    expect(grantOf(', dpop: required')).toMatchObject({ kind: 'token', dpop: 'required' })
  })

  it('leaves the grant without a requirement when absent or optional', () => {
    expect(grantOf('')).not.toHaveProperty('dpop')
    expect(grantOf(', dpop: optional')).not.toHaveProperty('dpop')
  })

  it.each(['yes', 'true', 'Required', '[required]'])('refuses dpop: %s', (value) => {
    let err: unknown
    try {
      loadConfigText(config(`, dpop: ${value}`), 'f.yaml')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).issues.join('\n')).toMatch(/policies\[0\]\.grant\.token\.dpop/)
  })
})

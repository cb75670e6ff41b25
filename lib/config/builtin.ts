/**
 * The built-in example config `tessera serve` runs without --config: a local dev issuer (served
 * by the same process) trusted for one deploy policy and one admin policy.
 */
export function builtinConfigText(brokerUrl: string): string {
  return `# Built-in example (tessera serve without --config). Local development only.
issuer: ${brokerUrl}
signing:
  algorithm: ES256
  key: { local: .tessera/signing-key.json }
store: { memory: {} }
providers:
  - name: dev
    kind: oidc
    issuer: ${brokerUrl}/dev
    audiences: [${brokerUrl}]
    algorithms: [ES256]
    maxTokenAge: 15m
    replay: once
policies:
  - name: deploy-app
    description: main of acme/app may deploy
    provider: dev
    match:
      sub: repo:acme/app:ref:refs/heads/main
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
  - name: broker-admin
    description: the local operator may introspect and revoke
    provider: dev
    match:
      sub: admin
    grant:
      token: { audience: ${brokerUrl}, scopes: [tessera:introspect, tessera:revoke], ttl: 10m }
`
}

import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TOKEN_EXCHANGE_GRANT, TokenTypes } from '../lib/assertion/token-types.js'
import type { HttpRequest } from '../lib/http/types.js'
import type { MintSpec } from './mint-pool.js'

/** The broker's own issuer in every bench config (never fetched). */
export const BROKER_ISSUER = 'https://tessera.bench.example'
/** The audience subject tokens carry and the provider accepts. */
export const SUBJECT_AUDIENCE = 'https://tessera.bench.example'
/** The target every bench exchange asks for. */
export const TARGET = 'https://api.example.com'
export const SCOPE = 'deploy:write'

/** A loopback OIDC issuer: RS256 key, JWKS at /jwks; the broker fetches it once per cache period. */
export interface SubjectIssuer {
  readonly issuer: string
  readonly jwksUri: string
  /** How many times /jwks was fetched. */
  readonly jwksHits: () => number
  /** SPKI PEM of the signing key (for the crypto floor). */
  readonly publicPem: string
  /** The mint spec of a GitHub-Actions-like identity token (distinct jti per token). */
  readonly spec: (ttlSeconds: number) => MintSpec
  close(): Promise<void>
}

/** Starts the subject-token issuer on 127.0.0.1 (port 0). */
export async function startSubjectIssuer(): Promise<SubjectIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomUUID()
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
  let hits = 0
  const server = createServer((req, res) => {
    if (req.url === '/jwks') {
      hits++
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
    } else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    jwksHits: () => hits,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    spec: (ttl) => ({
      privatePem,
      kid,
      ttl,
      claims: {
        iss: issuer,
        aud: SUBJECT_AUDIENCE,
        sub: 'repo:acme/app:ref:refs/heads/main',
        repository: 'acme/app',
        repository_owner: 'acme',
        ref: 'refs/heads/main',
        ref_type: 'branch',
        workflow: 'deploy',
        event_name: 'push',
        actor: 'octocat',
        environment: 'production',
        runner_environment: 'github-hosted',
      },
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The form body of one RFC 8693 exchange (base64url tokens need no percent-encoding). */
export function exchangeBody(token: string): string {
  return (
    `grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&subject_token=${token}` +
    `&subject_token_type=${encodeURIComponent(TokenTypes.jwt)}&audience=${encodeURIComponent(TARGET)}` +
    `&scope=${encodeURIComponent(SCOPE)}`
  )
}

/** The HttpRequest the token core sees for one exchange (built before timing starts). */
export function exchangeRequest(token: string): HttpRequest {
  return {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    // Flat, as a body read from a socket is (a concatenated rope would be flattened on first use).
    body: Buffer.from(exchangeBody(token)).toString(),
    query: '',
    sourceIp: '127.0.0.1',
    requestId: randomUUID(),
  }
}

export interface ConfigShape {
  readonly issuer: SubjectIssuer
  readonly keyPath: string
  /** Total policies (>= 1); the one that allows the bench request is last in config order. */
  readonly policies: number
  /** Total providers (>= 1); only the first is the real loopback issuer. */
  readonly providers: number
  /** The signing key reference (YAML flow), instead of the local key at `keyPath`. */
  readonly signingKey?: string | undefined
  /** The store (YAML flow); default the memory store. */
  readonly store?: string | undefined
}

/** A broker config with replay protection on and a realistic exact/glob/regex policy mix. */
export function brokerConfigText(shape: ConfigShape): string {
  const lines = [
    `issuer: ${BROKER_ISSUER}`,
    'signing:',
    '  algorithm: ES256',
    `  key: ${shape.signingKey ?? `{ local: ${JSON.stringify(shape.keyPath)} }`}`,
    `store: ${shape.store ?? '{ memory: {} }'}`,
    'providers:',
  ]
  for (let p = 0; p < shape.providers; p++) {
    const real = p === 0
    lines.push(
      `  - name: ${real ? 'actions' : `idp-${p}`}`,
      '    kind: oidc',
      `    issuer: ${real ? shape.issuer.issuer : `https://idp-${p}.example.com`}`,
      ...(real ? [`    jwksUri: ${shape.issuer.jwksUri}`] : []),
      `    audiences: [${SUBJECT_AUDIENCE}]`,
      '    algorithms: [RS256]',
      '    maxTokenAge: 15m',
      '    replay: once',
    )
  }
  lines.push('policies:')
  for (let i = 1; i < shape.policies; i++) lines.push(...decoyPolicy(i, shape.providers))
  lines.push(
    '  - name: deploy-app',
    '    provider: actions',
    '    match:',
    '      repository: acme/app',
    '      ref: { glob: "refs/heads/*" }',
    '      workflow: [deploy, release]',
    '    grant:',
    `      token: { audience: ${TARGET}, scopes: [${SCOPE}, "deploy:read"], ttl: 10m }`,
  )
  return `${lines.join('\n')}\n`
}

/** A policy that cannot allow the bench request: another repo, usually another audience and provider. */
function decoyPolicy(i: number, providers: number): string[] {
  const provider = i % providers === 0 || i === 8 || i === 16 ? 'actions' : `idp-${i % providers}`
  // Two decoys share the bench target (other repos deploying to the same API): they sit in the same
  // (provider, target) index bucket, so they are scanned at every size from 17 policies up.
  const audience = i === 8 || i === 16 ? TARGET : `https://svc-${Math.floor(i / 3)}.example.com`
  const head = [`  - name: policy-${i}`, `    provider: ${provider}`, '    match:']
  const match =
    i % 3 === 0
      ? [`      repository: org-${i}/service`, '      ref: refs/heads/main']
      : i % 3 === 1
        ? [
            `      sub: { glob: "repo:org-${i}/*:ref:refs/heads/*" }`,
            '      event_name: [push, workflow_dispatch]',
          ]
        : [
            `      repository: { regex: "org-${i}/(api|web|worker)" }`,
            '      ref: { regex: "refs/tags/v[0-9]+(\\\\.[0-9]+)*" }',
          ]
  return [...head, ...match, '    grant:', `      token: { audience: ${audience}, scopes: [read], ttl: 5m }`]
}

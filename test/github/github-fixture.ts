import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import type { VerifiedSubject } from '../../lib/assertion/types.js'
import type { AuditEvent } from '../../lib/audit/types.js'
import type { GithubConfig } from '../../lib/config/github.js'
import type { MintContext } from '../../lib/credentials/minter.js'
import { createLocalSigner } from '../../lib/keys/local-signer.js'
import type { Signer } from '../../lib/keys/signer.js'
import type { ResolvedGrant } from '../../lib/policy/types.js'
import { type FakeInstallation, type GithubFake, startGithubFake } from '../fakes/github.js'

export const APP_ID = 123456

/** One RSA key per test file: the App's private key (as GitHub would have generated it). */
export const appKey: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
})

export const INSTALLATIONS: FakeInstallation[] = [
  {
    id: 71,
    appId: APP_ID,
    account: 'acme',
    type: 'Organization',
    repositories: ['app', 'infra', 'docs'],
    permissions: { contents: 'write', pull_requests: 'write', issues: 'read', metadata: 'read' },
  },
  {
    id: 72,
    appId: APP_ID,
    account: 'octocat',
    type: 'User',
    repositories: '*',
    permissions: { contents: 'read', metadata: 'read' },
  },
]

export const SUBJECT: VerifiedSubject = {
  provider: 'gha',
  kind: 'oidc',
  issuer: 'https://token.actions.githubusercontent.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  claims: { sub: 'repo:acme/app:ref:refs/heads/main' },
  tokenHash: 'x',
}

export type GithubGrant = Extract<ResolvedGrant, { kind: 'github' }>

export function grant(extra: Partial<GithubGrant> = {}): GithubGrant {
  return {
    kind: 'github',
    app: 'ci-bot',
    owner: 'acme',
    repositories: ['app'],
    permissions: { contents: 'read' },
    ...extra,
  }
}

export function githubConfig(apiUrl: string): GithubConfig {
  return { apps: [{ name: 'ci-bot', appId: String(APP_ID), privateKey: { kms: 'alias/x' }, apiUrl }] }
}

/** A local signer over the App key that counts its signatures. */
export async function countingSigner(): Promise<{ signer: Signer; signs: () => number }> {
  const inner = await createLocalSigner(appKey.privateKey.export({ format: 'jwk' }) as JWK, 'RS256')
  let n = 0
  return {
    signs: () => n,
    signer: {
      ...inner,
      sign: (input) => {
        n++
        return inner.sign(input)
      },
    },
  }
}

/** A settable clock shared by the minter and the fake. */
export function clock(start = Date.UTC(2026, 11, 6, 12)) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

export function startFake(now: () => number): Promise<GithubFake> {
  return startGithubFake({
    apps: [{ iss: String(APP_ID), appId: APP_ID, publicKey: appKey.publicKey }],
    installations: INSTALLATIONS,
    now,
  })
}

export function auditSink() {
  const events: AuditEvent[] = []
  return { events, sink: { emit: (e: AuditEvent) => void events.push(e) } }
}

/** GitHub's `hashed_token` form: base64 (padded) SHA-256. */
export const hashed = (token: string) => createHash('sha256').update(token).digest('base64')

/** A minter context for a github exchange (the request named the owner URL). */
export function mintContext(extra: Partial<MintContext> = {}): MintContext {
  return {
    policy: 'build',
    requestId: 'req-1',
    now: Date.now(),
    request: {
      subjectToken: 'x',
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      audiences: [],
      resources: ['https://github.com/acme'],
      tokenType: 'urn:ietf:params:oauth:token-type:access_token',
    },
    ...extra,
  }
}

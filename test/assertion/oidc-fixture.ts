import { createOidcVerifier } from '../../lib/assertion/oidc.js'
import type { RemoteJwksOptions } from '../../lib/assertion/remote-jwks.js'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { AssertionInput, AssertionVerifier, VerifiedSubject } from '../../lib/assertion/types.js'
import { type OidcProviderConfig, OidcProviderSchema } from '../../lib/config/providers/oidc.js'
import { BrokerError } from '../../lib/errors.js'
import { FormParams } from '../../lib/http/form.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'

export const BROKER = 'https://sts.example.com'

/** A provider config as the real schema produces it. */
export function oidcProvider(fields: Record<string, unknown>): OidcProviderConfig {
  return OidcProviderSchema.parse({ name: 'ci', kind: 'oidc', ...fields })
}

export interface OidcFixture {
  readonly issuer: TestIssuer
  readonly clock: { now: number }
  readonly verifier: AssertionVerifier
  /** Every URL the verifier fetched, in order. */
  readonly fetched: string[]
  readonly hookCalls: string[]
  verify(token: string): Promise<VerifiedSubject>
  /** Verifies and returns the BrokerError it must raise. */
  refuse(token: string): Promise<BrokerError>
  close(): Promise<void>
}

/** Builds an input as the exchange core would. */
export function assertionInput(token: string, now: number): AssertionInput {
  return {
    subjectToken: token,
    subjectTokenType: TokenTypes.jwt,
    params: new FormParams(new Map()),
    requestId: 'req-test',
    sourceIp: '127.0.0.1',
    now,
  }
}

/** Starts a loopback issuer and an OIDC verifier trusting it (plus `extraProviders`). */
export async function setupOidc(
  provider: Record<string, unknown> = {},
  opts: {
    alg?: 'RS256' | 'ES256'
    path?: string
    jwks?: Partial<RemoteJwksOptions>
    extraProviders?: OidcProviderConfig[]
    rewrite?: (url: string, issuer: TestIssuer) => string
  } = {},
): Promise<OidcFixture> {
  const issuer = await startTestIssuer({
    alg: opts.alg ?? 'RS256',
    ...(opts.path ? { path: opts.path } : {}),
  })
  const clock = { now: Date.now() }
  const fetched: string[] = []
  const hookCalls: string[] = []
  const recordingFetch: typeof globalThis.fetch = (url, init) => {
    const text = String(url)
    fetched.push(text)
    return globalThis.fetch(opts.rewrite ? opts.rewrite(text, issuer) : text, init)
  }
  const providers = [oidcProvider({ issuer: issuer.issuer, ...provider }), ...(opts.extraProviders ?? [])]
  let verifier: AssertionVerifier
  try {
    verifier = createOidcVerifier(
      providers,
      {
        fetch: recordingFetch,
        now: () => clock.now,
        brokerIssuer: BROKER,
        onJwksFetch: (iss, document) => hookCalls.push(`${document} ${iss}`),
      },
      { jwks: { ...opts.jwks } },
    )
  } catch (err) {
    await issuer.close()
    throw err
  }
  const verify = (token: string) => verifier.verify(assertionInput(token, clock.now))
  return {
    issuer,
    clock,
    verifier,
    fetched,
    hookCalls,
    verify,
    async refuse(token) {
      try {
        await verify(token)
      } catch (err) {
        if (err instanceof BrokerError) return err
        throw err
      }
      throw new Error('expected the token to be refused')
    },
    close: () => issuer.close(),
  }
}

import { createAwsIamVerifier } from '../../lib/assertion/aws-iam.js'
import type { AssertionInput } from '../../lib/assertion/types.js'
import { signedCallerIdentityToken } from '../../lib/client/aws-sigv4.js'
import { type AwsIamProviderConfig, AwsIamProviderSchema } from '../../lib/config/providers/aws-iam.js'
import { FormParams } from '../../lib/http/form.js'
import { type FakeSts, LAMBDA_ROLE, type StsPrincipal } from '../fakes/sts.js'

/** Test clock: a fixed instant near real time (the fake STS checks signature age against real time). */
export const T = Math.floor(Date.now() / 1000) * 1000

/** A presented request as the verifier decodes it. */
export interface RequestJson {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

export const decodeToken = (token: string): RequestJson =>
  JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as RequestJson
export const encodeToken = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url')

/** Signs a GetCallerIdentity token for `principal` with the real client code (region "global": no region set). */
export async function signAs(
  principal: StsPrincipal = LAMBDA_ROLE,
  opts: { region?: string; serverId?: string; at?: number } = {},
): Promise<string> {
  if (opts.region === 'global') {
    const saved = process.env.AWS_REGION
    delete process.env.AWS_REGION
    try {
      const { region: _global, ...rest } = opts
      return await signAs(principal, rest)
    } finally {
      process.env.AWS_REGION = saved
    }
  }
  return signedCallerIdentityToken({
    ...(opts.region !== undefined ? { region: opts.region } : {}),
    ...(opts.serverId !== undefined ? { serverId: opts.serverId } : {}),
    credentials: async () => ({
      accessKeyId: principal.accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      ...(principal.sessionToken !== undefined ? { sessionToken: principal.sessionToken } : {}),
    }),
    now: () => new Date(opts.at ?? T),
  })
}

/** Signs, then edits the decoded request (the signature is NOT recomputed). */
export async function tampered(
  edit: (r: RequestJson) => void,
  opts?: Parameters<typeof signAs>[1],
): Promise<string> {
  const r = decodeToken(await signAs(LAMBDA_ROLE, opts))
  edit(r)
  return encodeToken(r)
}

export function provider(p: Record<string, unknown> = {}): AwsIamProviderConfig {
  return AwsIamProviderSchema.parse({
    name: 'lambdas',
    kind: 'aws-iam',
    accounts: [LAMBDA_ROLE.account],
    ...p,
  })
}

export function input(subjectToken: string): AssertionInput {
  return {
    subjectToken,
    subjectTokenType: 'urn:tessera:params:oauth:token-type:aws-sigv4',
    params: new FormParams(new Map()),
    requestId: 'req-1',
    sourceIp: '127.0.0.1',
    now: T,
  }
}

/** The verifier under test, forwarding to `fake` with short timeouts (200 ms attempts, 1.5 s deadline). */
export function verifierFor(fake: FakeSts, providers: AwsIamProviderConfig[] = [provider()], now = T) {
  return createAwsIamVerifier(providers, {
    now: () => now,
    stsEndpoint: fake.endpoint,
    forward: { attemptTimeoutMs: 200, deadlineMs: 1500 },
  })
}

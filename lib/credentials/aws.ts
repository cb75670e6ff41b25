import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import * as z from 'zod'
import type { VerifiedSubject } from '../assertion/types.js'
import { awsClientConfig, isThrottlingAwsError, withDeadline } from '../aws/retry.js'
import { packSessionPolicy } from '../config/aws-grant.js'
import type { AwsGrant } from '../config/schema.js'
import {
  BrokerError,
  DependencyThrottled,
  InvalidRequest,
  InvalidTarget,
  TemporarilyUnavailable,
} from '../errors.js'
import { renderSessionTags, renderSourceIdentity, roleSessionName } from './aws-session.js'
import type { MintContext, Minter } from './minter.js'

export const AWS_CREDENTIALS_TOKEN_TYPE = 'urn:tessera:params:oauth:token-type:aws-credentials'
const MIN_DURATION = 900
const MAX_DURATION = 43_200

/**
 * The RFC 8693 response for an `aws` grant. A type alias rather than an interface so it is assignable
 * to `Record<string, unknown>` (a minted body).
 */
export type AwsCredentialsResponse = {
  access_token: string
  issued_token_type: typeof AWS_CREDENTIALS_TOKEN_TYPE
  token_type: 'N_A'
  expires_in: number
  aws_access_key_id: string
  aws_secret_access_key: string
  aws_session_token: string
  /** ISO 8601. */
  expiration: string
}

/** The part of the AssumeRole answer Tessera relies on; anything else is an STS malfunction. */
const AssumeRoleOutputSchema = z.object({
  Credentials: z.object({
    AccessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/),
    SecretAccessKey: z.string().min(1).max(1024),
    SessionToken: z.string().min(1).max(16_384),
    Expiration: z.date().refine((d) => !Number.isNaN(d.getTime())),
  }),
})

/** DurationSeconds: the grant's duration within AWS's 900–43,200 s range. */
export function clampDuration(seconds: number): number {
  return Math.min(MAX_DURATION, Math.max(MIN_DURATION, Math.floor(seconds)))
}

/** The AssumeRole parameters for one grant and subject (exported for `policy explain` and tests). */
export function assumeRoleInput(grant: AwsGrant, subject: VerifiedSubject, policy: string) {
  const tags = renderSessionTags(grant.sessionTags, subject.claims, policy)
  const sessionPolicy = grant.sessionPolicy === undefined ? undefined : packSessionPolicy(grant.sessionPolicy)
  if (grant.sessionPolicy !== undefined && sessionPolicy === undefined) {
    // Config load refuses this; reaching it means the loader was bypassed.
    throw new InvalidRequest(`policy '${policy}' has a session policy that is not a JSON object`)
  }
  // Provider-qualified: the same `sub` from two issuers (two clusters' service accounts) must not
  // share a session name or source identity, which IAM conditions grant on.
  const identity = `${subject.provider}:${subject.sub}`
  return {
    RoleArn: grant.roleArn,
    RoleSessionName: roleSessionName(identity),
    SourceIdentity: renderSourceIdentity(grant.sourceIdentity, identity, subject.claims, policy),
    DurationSeconds: clampDuration(grant.duration),
    ...(tags.length > 0 ? { Tags: tags } : {}),
    ...(sessionPolicy !== undefined ? { Policy: sessionPolicy } : {}),
  }
}

/** Creates the minter for `aws` grants: one sts:AssumeRole per exchange, bounded by 3 attempts / 5 s. */
export function createAwsMinter(opts: { client?: STSClient; now?: () => number } = {}): Minter<'aws'> {
  const now = opts.now ?? Date.now
  let client = opts.client
  const sts = (): STSClient => {
    // Built lazily so a config without aws grants never resolves credentials or a region.
    client ??= new STSClient({
      ...awsClientConfig('sts'),
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    })
    return client
  }
  /** Assumes the grant's role for the subject and returns the RFC 8693 response body. */
  async function assumeRole(
    grant: AwsGrant,
    subject: VerifiedSubject,
    ctx: Pick<MintContext, 'policy' | 'requestId'>,
  ): Promise<AwsCredentialsResponse> {
    const input = assumeRoleInput(grant, subject, ctx.policy)
    let output: unknown
    try {
      output = await withDeadline((abortSignal) => sts().send(new AssumeRoleCommand(input), { abortSignal }))
    } catch (err) {
      throw mapStsError(err, ctx.policy)
    }
    const parsed = AssumeRoleOutputSchema.safeParse(output)
    if (!parsed.success) {
      throw new TemporarilyUnavailable('STS returned an unexpected AssumeRole response').withDetail(
        parsed.error.message,
      )
    }
    const c = parsed.data.Credentials
    const expiresIn = Math.floor((c.Expiration.getTime() - now()) / 1000)
    if (expiresIn <= 0) {
      throw new TemporarilyUnavailable('STS returned credentials that are already expired').withDetail(
        `Expiration ${c.Expiration.toISOString()} request ${ctx.requestId}`,
      )
    }
    return {
      access_token: c.SessionToken,
      issued_token_type: AWS_CREDENTIALS_TOKEN_TYPE,
      token_type: 'N_A',
      expires_in: expiresIn,
      aws_access_key_id: c.AccessKeyId,
      aws_secret_access_key: c.SecretAccessKey,
      aws_session_token: c.SessionToken,
      expiration: c.Expiration.toISOString(),
    }
  }
  return {
    kind: 'aws',
    outageMetric: 'sts_errors',
    async mint(grant, subject, ctx) {
      const body = await assumeRole(grant, subject, ctx)
      return { body, granted: { role_arn: grant.roleArn, expires_in: body.expires_in } }
    },
  }
}

/** Maps an STS failure to the OAuth error the caller sees; never a 500, never STS's own text. */
export function mapStsError(err: unknown, policy: string): BrokerError {
  if (err instanceof BrokerError) return err
  const name = err instanceof Error ? err.name : 'unknown'
  const detail = `AssumeRole failed: ${name}: ${err instanceof Error ? err.message : String(err)}`
  switch (name) {
    case 'AccessDenied':
    case 'AccessDeniedException':
      return new InvalidTarget(
        `STS refused to let Tessera assume the role of policy '${policy}' (AccessDenied): the role's trust policy must allow sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity for Tessera`,
      ).withDetail(detail)
    case 'RegionDisabledException':
      return new InvalidTarget(
        `STS is not activated in this region for the account of the role of policy '${policy}'`,
      ).withDetail(detail)
    case 'PackedPolicyTooLarge':
    case 'PackedPolicyTooLargeException':
      return new InvalidRequest(
        `policy '${policy}': the session policy and session tags exceed STS's packed size limit (PackedPolicyTooLarge)`,
      ).withDetail(detail)
    case 'MalformedPolicyDocument':
    case 'MalformedPolicyDocumentException':
      return new InvalidRequest(
        `policy '${policy}': STS rejected its session policy as malformed`,
      ).withDetail(detail)
    case 'ValidationError':
      // Not transient (e.g. a duration above the role's MaxSessionDuration, or over 1 h when Tessera's own
      // credentials come from a role — role chaining): retrying cannot help, so no 503.
      return new InvalidTarget(
        `STS refused the AssumeRole parameters of policy '${policy}' (e.g. a duration above the role's maximum session duration)`,
      ).withDetail(detail)
    default:
      if (isThrottlingAwsError(err))
        return new DependencyThrottled('sts', 'AWS STS is over its request quota; retry later').withDetail(
          detail,
        )
      return new TemporarilyUnavailable('AWS STS is unavailable; retry later').withDetail(detail)
  }
}

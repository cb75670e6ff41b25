import type { AwsIamProviderConfig } from '../config/providers/aws-iam.js'
import { InvalidRequest, TemporarilyUnavailable } from '../errors.js'
import { replayExpiresAt } from '../store/replay.js'
import { checkSignedRequest, decodeSignedRequest, MAX_DATE_SKEW_MS } from './sigv4-request.js'
import { createStsForwarder, type StsForwardOptions } from './sts-forward.js'
import { arnPartition, callerClaims, parseCallerIdentity, stsErrorCode } from './sts-identity.js'
import { tokenHash } from './token-hash.js'
import { TokenTypes } from './token-types.js'
import type { AssertionInput, AssertionVerifier, VerifiedSubject } from './types.js'

/**
 * `kind: aws-iam`: the caller proves an IAM identity by handing over a signed sts:GetCallerIdentity
 * request, which Tessera checks and then sends to STS itself; STS's answer names the principal.
 *
 * Replay: STS accepts a signed request for as long as X-Amz-Date is within 5 minutes, so a captured
 * subject token is a bearer credential for that window. With `replay: once` (the default) the
 * exchange consumes the request's SigV4 signature as a single-use key, kept until the window
 * closes; the signature covers every signed header, so a request cannot be re-spelled to dodge
 * it. `serverIdHeader` keeps a request made for one deployment from being accepted by another.
 */

export interface AwsIamVerifierDeps {
  /** Epoch milliseconds; the X-Amz-Date window is checked against it. */
  readonly now: () => number
  /**
   * Unused: Node's fetch cannot send a Host header other than the URL's, which forwarding to
   * AWS_ENDPOINT_URL_STS needs; accepted so the broker can pass its usual deps.
   */
  readonly fetch?: typeof globalThis.fetch
  /** Forward here instead of the signed STS host; defaults to AWS_ENDPOINT_URL_STS. */
  readonly stsEndpoint?: string | undefined
  /** Attempt/deadline overrides (tests); defaults 3 attempts × 2 s within 5 s. */
  readonly forward?: Omit<StsForwardOptions, 'endpoint'>
}

/** Partition of the ARNs STS returns for a region (GovCloud regions answer with aws-us-gov). */
const partitionOf = (region: string): string => (region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws')

/** Creates the verifier for every `aws-iam` provider. */
export function createAwsIamVerifier(
  providers: readonly AwsIamProviderConfig[],
  deps: AwsIamVerifierDeps,
): AssertionVerifier {
  const serverIds = [
    ...new Set(providers.flatMap((p) => (p.serverIdHeader === undefined ? [] : [p.serverIdHeader]))),
  ]
  const requireServerId = providers.length > 0 && providers.every((p) => p.serverIdHeader !== undefined)
  const forward = createStsForwarder({
    ...deps.forward,
    endpoint: deps.stsEndpoint ?? process.env.AWS_ENDPOINT_URL_STS,
  })

  return {
    tokenTypes: [TokenTypes.awsSigv4],
    async verify(input: AssertionInput): Promise<VerifiedSubject> {
      if (providers.length === 0) throw new InvalidRequest('no aws-iam provider is configured')
      const presented = decodeSignedRequest(input.subjectToken)
      const checked = checkSignedRequest(presented, { now: deps.now(), serverIds, requireServerId })

      const reply = await forward({ host: checked.host, headers: checked.headers, body: checked.body })
      if (reply.status === 403) {
        throw new InvalidRequest('signature rejected by STS').withDetail(
          `STS ${stsErrorCode(reply.body) ?? '403'}`,
        )
      }
      if (reply.status >= 400) {
        throw new InvalidRequest('STS rejected the signed request').withDetail(
          `STS ${reply.status} ${stsErrorCode(reply.body) ?? ''}`,
        )
      }
      const identity = reply.status === 200 ? parseCallerIdentity(reply.body) : undefined
      if (!identity || arnPartition(identity.arn) !== partitionOf(checked.region)) {
        throw new TemporarilyUnavailable(
          'AWS STS returned an unexpected GetCallerIdentity response',
        ).withDetail(`status ${reply.status}`)
      }

      const forAccount = providers.filter((p) => p.accounts.includes(identity.account))
      if (forAccount.length === 0)
        throw new InvalidRequest('the AWS account is not allowed by any aws-iam provider')
      const provider = forAccount.find(
        (p) => p.serverIdHeader === undefined || p.serverIdHeader === checked.serverId,
      )
      if (!provider) {
        throw new InvalidRequest(
          'X-Tessera-Server-ID does not match the provider that trusts this AWS account',
        )
      }
      return {
        provider: provider.name,
        kind: 'aws-iam',
        issuer: checked.host,
        sub: identity.arn,
        claims: callerClaims(identity),
        tokenHash: tokenHash(input.subjectToken),
        ...(provider.replay === 'once'
          ? {
              replay: {
                key: `aws-iam:${checked.signature}`,
                // Accepted up to and including X-Amz-Date + 5 min; the tolerance is kept on top of
                // that bound as the documented window, and the replay margin on top of both.
                expiresAt: replayExpiresAt(
                  checked.signedAt + MAX_DATE_SKEW_MS + 1 + provider.clockTolerance * 1000,
                ),
              },
            }
          : {}),
      }
    },
  }
}

import * as z from 'zod'
import { AwsAccountIdSchema, providerCommon, ServerIdSchema } from './common.js'

/** `kind: aws-iam`: a signed sts:GetCallerIdentity request proves an IAM principal. */
export const AwsIamProviderSchema = z.strictObject({
  ...providerCommon,
  kind: z.literal('aws-iam'),
  accounts: z.array(AwsAccountIdSchema).min(1),
  /** When set, the signed request must carry `X-Tessera-Server-ID: <value>` (anti-replay across deployments). */
  serverIdHeader: ServerIdSchema.optional(),
  /**
   * `once` (default): a signed request is accepted once (keyed by its SigV4 signature, kept until
   * X-Amz-Date + 5 min + clockTolerance + the 60 s replay margin, see docs/design.md). `allow`:
   * reusable within its 5-minute window.
   */
  replay: z.enum(['once', 'allow']).default('once'),
})
export type AwsIamProviderConfig = z.output<typeof AwsIamProviderSchema>

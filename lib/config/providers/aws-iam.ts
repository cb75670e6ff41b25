import { z } from 'zod'
import { AwsAccountIdSchema, providerCommon } from './common.js'

/** `kind: aws-iam`: a signed sts:GetCallerIdentity request proves an IAM principal. */
export const AwsIamProviderSchema = z.strictObject({
  ...providerCommon,
  kind: z.literal('aws-iam'),
  accounts: z.array(AwsAccountIdSchema).min(1),
  /** When set, the signed request must carry `X-Tessera-Server-ID: <value>` (anti-replay across deployments). */
  serverIdHeader: z
    .string()
    .min(1)
    .max(256)
    // An HTTP header value survives signing and proxies only as printable ASCII without edge spaces.
    .regex(
      /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/,
      'must be printable ASCII without leading or trailing spaces',
    )
    .optional(),
})
export type AwsIamProviderConfig = z.output<typeof AwsIamProviderSchema>

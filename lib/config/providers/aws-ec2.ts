import * as z from 'zod'
import { DurationSchema } from '../duration.js'
import { AwsAccountIdSchema, providerCommon, ServerIdSchema } from './common.js'

/** `kind: aws-ec2`: the signed instance identity document (rsa2048 PKCS#7), bound to one instance. */
export const AwsEc2ProviderSchema = z.strictObject({
  ...providerCommon,
  kind: z.literal('aws-ec2'),
  accounts: z.array(AwsAccountIdSchema).min(1),
  /** region → PEM; adds to or replaces the shipped AWS certificates. */
  certificates: z.record(z.string().min(1), z.string().min(1)).optional(),
  binding: z
    .strictObject({
      mode: z.enum(['tofu']).default('tofu'),
      registrationWindow: DurationSchema.default(900),
      lifetime: DurationSchema.default(30 * 86_400),
      requireCallerIdentity: z.boolean().default(false),
    })
    .prefault({}),
  /** With requireCallerIdentity: the presence proof must carry `X-Tessera-Server-ID: <value>`. */
  serverIdHeader: ServerIdSchema.optional(),
})
export type AwsEc2ProviderConfig = z.output<typeof AwsEc2ProviderSchema>

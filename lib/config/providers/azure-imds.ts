import * as z from 'zod'
import { providerCommon } from './common.js'

/** `kind: azure-imds`: the attested data document, signed over a Tessera-issued nonce. */
export const AzureImdsProviderSchema = z.strictObject({
  ...providerCommon,
  kind: z.literal('azure-imds'),
  subscriptions: z.array(z.string().min(1)).min(1),
  /** PEM roots the signer must chain to; replaces the shipped Microsoft roots. */
  roots: z.array(z.string().min(1)).min(1).optional(),
  /**
   * PEM intermediate CAs between the signer and a root (the attested PKCS#7 usually carries only
   * the leaf, and Tessera never fetches certificates over the network).
   */
  intermediates: z.array(z.string().min(1)).min(1).optional(),
  signerNames: z.array(z.string().min(1)).min(1).default(['metadata.azure.com']),
})
export type AzureImdsProviderConfig = z.output<typeof AzureImdsProviderSchema>

import * as z from 'zod'
import { boundedDuration } from '../duration.js'

/** A provider or policy name: appears in tokens (`idp`, `client_id`) and logs. */
export const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters of letters, digits, ".", "_" or "-"')

/** Fields every provider kind shares. */
export const providerCommon = {
  name: NameSchema,
  /** Allowed clock skew for exp/nbf/iat and similar timestamps. */
  clockTolerance: boundedDuration(0, 300).default(30),
}

/** A 12-digit AWS account id, quoted in YAML. */
export const AwsAccountIdSchema = z
  .string()
  .regex(/^\d{12}$/, 'must be a 12-digit AWS account id (quote it in YAML)')

/** An `X-Tessera-Server-ID` value: printable ASCII without edge spaces (it must survive signing and proxies). */
export const ServerIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/,
    'must be printable ASCII without leading or trailing spaces',
  )

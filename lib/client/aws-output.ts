import * as z from 'zod'

/**
 * Client-side formatting of an AWS credentials token response (issued_token_type
 * `urn:tessera:params:oauth:token-type:aws-credentials`) for `tessera exchange --format`.
 */

/** The fields the formats need; the broker's answer is checked before anything is printed. */
export const AwsCredentialsOutputSchema = z.object({
  aws_access_key_id: z.string().regex(/^[A-Z0-9]{16,128}$/),
  aws_secret_access_key: z.string().regex(/^[A-Za-z0-9/+=]{1,1024}$/),
  aws_session_token: z.string().regex(/^[A-Za-z0-9/+=]{1,16384}$/),
  expiration: z.iso.datetime({ offset: true }),
})
export type AwsCredentialsOutput = z.output<typeof AwsCredentialsOutputSchema>

/** Checks a token response body before printing it; throws with a readable message when it is not AWS credentials. */
export function parseAwsCredentialsOutput(body: unknown): AwsCredentialsOutput {
  const parsed = AwsCredentialsOutputSchema.safeParse(body)
  if (parsed.success) return parsed.data
  // The grant is chosen by audience/resource, so a token grant answers with a token here.
  const granted = (body as { access_token?: unknown } | null)?.access_token
  throw new Error(
    typeof granted === 'string'
      ? 'the broker granted an access token, not AWS credentials: use --format json or token (the grant is chosen by --audience or --resource)'
      : 'the broker did not answer with AWS credentials',
  )
}

/** AWS CLI / SDK `credential_process` JSON (Version 1). */
export function formatCredentialProcess(resp: AwsCredentialsOutput): string {
  const c = parseAwsCredentialsOutput(resp)
  return JSON.stringify({
    Version: 1,
    AccessKeyId: c.aws_access_key_id,
    SecretAccessKey: c.aws_secret_access_key,
    SessionToken: c.aws_session_token,
    Expiration: c.expiration,
  })
}

/** POSIX shell `export AWS_…=` lines, one per variable, newline-terminated. */
export function formatEnv(resp: AwsCredentialsOutput): string {
  const c = parseAwsCredentialsOutput(resp)
  return [
    ['AWS_ACCESS_KEY_ID', c.aws_access_key_id],
    ['AWS_SECRET_ACCESS_KEY', c.aws_secret_access_key],
    ['AWS_SESSION_TOKEN', c.aws_session_token],
    ['AWS_CREDENTIAL_EXPIRATION', c.expiration],
  ]
    .map(([name, value]) => `export ${name}=${shellQuote(value as string)}\n`)
    .join('')
}

/** Single-quotes for POSIX shells (values are already restricted; this is defence in depth). */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

import { createHash } from 'node:crypto'

/** base64url SHA-256 of a presented token: the only form in which a token is ever logged or keyed. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url')
}

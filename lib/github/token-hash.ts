import { createHash } from 'node:crypto'

/**
 * base64 (standard alphabet, padded) SHA-256 of an installation token: the form GitHub's audit log
 * records as `hashed_token`, so a Tessera audit line and a GitHub audit entry join on it.
 */
export function githubTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64')
}

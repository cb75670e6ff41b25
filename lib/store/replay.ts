import type { StateTable } from './types.js'

/**
 * Single-use keys (assertion `jti`, token hashes, nonces): the first caller wins, atomically,
 * with one conditional write. The item lives until `expiresAt` (epoch seconds), after which the
 * assertion itself is expired, so the key can safely be forgotten.
 */
export async function consumeOnce(table: StateTable, key: string, expiresAt: number): Promise<boolean> {
  return table.put({ pk: `replay#${key}`, sk: '-', expiresAt, attrs: {} }, { ifAbsent: true })
}

import type { StateTable } from './types.js'

/**
 * Seconds a replay record outlives the last instant its token can be accepted. The verifier reads
 * the clock once, before verification; the store reads it again at the conditional write, after a
 * JWKS or STS round trip and the policy steps. This margin covers that whole request (bounded well
 * below it by the function timeout) plus a small clock step between the two reads. docs/design.md
 * ("Replay window") holds the argument.
 */
export const REPLAY_MARGIN_SECONDS = 60

/**
 * The `expiresAt` (epoch seconds) of a replay record for a token that is accepted only while the
 * clock reads strictly less than `acceptedBeforeMs` (epoch ms): that instant, rounded up to a whole
 * second, plus {@link REPLAY_MARGIN_SECONDS}. Stores treat an item as absent once
 * `floor(now / 1000) >= expiresAt`, so the record is live for every store clock reading below
 * `acceptedBeforeMs + REPLAY_MARGIN_SECONDS * 1000`.
 */
export function replayExpiresAt(acceptedBeforeMs: number): number {
  return Math.ceil(acceptedBeforeMs / 1000) + REPLAY_MARGIN_SECONDS
}

/**
 * Single-use keys (assertion `jti`, token hashes, nonces): the first caller wins, atomically,
 * with one conditional write. The item lives until `expiresAt` (epoch seconds, from
 * {@link replayExpiresAt}), after which the assertion itself can no longer be accepted. A write
 * that arrives when `expiresAt` has already passed by the store's clock is refused (false), so a
 * request slower than the margin fails closed instead of consuming a key nobody would remember.
 */
export async function consumeOnce(table: StateTable, key: string, expiresAt: number): Promise<boolean> {
  return table.put({ pk: `replay#${key}`, sk: '-', expiresAt, attrs: {} }, { ifAbsent: true })
}

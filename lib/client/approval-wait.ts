import * as z from 'zod'
import { CIBA_GRANT } from '../assertion/token-types.js'
import { ExchangeFailed } from '../errors.js'
import { postTokenForm } from './exchange.js'

/** What the broker answers when a grant waits for approval (the CIBA members beside the error). */
export const PendingSchema = z.object({
  error: z.literal('authorization_pending'),
  auth_req_id: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  expires_in: z.number().int().nonnegative(),
  interval: z.number().int().positive().max(3600),
})
export type Pending = z.output<typeof PendingSchema>

/** How the waiting client reaches the broker and the clock (tests inject these). */
export interface WaitOptions {
  readonly fetch?: typeof globalThis.fetch
  /** Epoch ms. */
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
  /** One line for the human watching (stderr). */
  readonly notify: (line: string) => void
  /** A fresh DPoP proof for each poll (a proof is single use); absent: no DPoP. */
  readonly dpopProof?: (() => Promise<string>) | undefined
}

/** The pending answer inside a failed exchange, if that is what it was. */
export function pendingOf(err: unknown): Pending | undefined {
  if (!(err instanceof ExchangeFailed)) return undefined
  const parsed = PendingSchema.safeParse(err.body)
  return parsed.success ? parsed.data : undefined
}

/**
 * Polls the token endpoint with the CIBA grant until the request is decided: resolves with the
 * credential, or rejects with the broker's final answer (access_denied, expired_token,
 * invalid_grant, …). Honours `interval` and every `slow_down`, waits out a 503; prints one line with the expiry.
 */
export async function awaitApproval(
  tokenEndpoint: string,
  pending: Pending,
  opts: WaitOptions,
): Promise<Record<string, unknown>> {
  const now = opts.now ?? Date.now
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const expiresAt = new Date(now() + pending.expires_in * 1000).toISOString()
  opts.notify(`waiting for approval until ${expiresAt} (approvers: tessera approvals list)`)
  const form = new URLSearchParams({ grant_type: CIBA_GRANT, auth_req_id: pending.auth_req_id })
  let interval = pending.interval
  // A broker that keeps answering pending past the request's own expiry is not waited on forever.
  const giveUpAt = now() + (pending.expires_in + 60) * 1000
  for (;;) {
    if (now() > giveUpAt) throw new ExchangeFailed('expired_token', 'the approval request expired', 400)
    await sleep(interval * 1000)
    try {
      return await postTokenForm(tokenEndpoint, form, opts.fetch, await opts.dpopProof?.())
    } catch (err) {
      if (!(err instanceof ExchangeFailed)) throw err
      const next = z.object({ interval: z.number().int().positive().max(3600) }).safeParse(err.body)
      if (err.error === 'slow_down') interval = next.success ? next.data.interval : interval + 5
      else if (err.error === 'authorization_pending') interval = next.success ? next.data.interval : interval
      // A broker outage gives an approved request back: polling again later can still redeem it.
      else if (err.error !== 'temporarily_unavailable') throw err
    }
  }
}

import { FetchFailure } from '../errors.js'
import { fetchBounded } from '../http/bounded-fetch.js'
import type { ApprovalRecord } from './approval-item.js'

/** What a webhook receives; never a token, never the requester's auth_req_id. */
export interface ApprovalNotification {
  readonly event: 'approval.requested'
  readonly id: string
  readonly policy: string
  readonly requester: { readonly provider: string; readonly sub: string }
  readonly grant: Readonly<Record<string, unknown>>
  readonly reason: string | null
  readonly expires_at: string
  /** One line, so a Slack-style incoming webhook shows it as it is. */
  readonly text: string
}

export interface NotifyOptions {
  readonly fetch: typeof globalThis.fetch
  /** The whole POST (connect, answer, body) must finish within this. */
  readonly timeoutMs: number
  /** Called once with a short reason when the webhook could not be told; never throws. */
  readonly onFailure: (reason: string) => void
}

/** Any 2xx is a delivery; the body is read (bounded) and ignored. */
const DELIVERED = [200, 201, 202, 204]

/** The webhook body for a new request (built from what the approvers may see, nothing else). */
export function approvalNotification(record: ApprovalRecord): ApprovalNotification {
  const expiresAt = new Date(record.deadline * 1000).toISOString()
  const { provider, sub } = record.requester
  const reason = record.reason === undefined ? undefined : oneLine(record.reason)
  const text = escapeMarkup(
    oneLine(
      `Approval needed: ${sub} (${provider}) requests ${record.policy}` +
        `${reason ? ` because: ${reason}` : ''}; ${record.minApprovals} approval(s) by ${record.approvers} ` +
        `before ${expiresAt}; id ${record.id}`,
    ),
  )
  return {
    event: 'approval.requested',
    id: record.id,
    policy: record.policy,
    requester: { provider, sub },
    grant: record.grant,
    reason: reason ?? null,
    expires_at: expiresAt,
    text,
  }
}

/**
 * POSTs the notification, bounded in time and size, without redirects. Resolves in every case
 * (a hanging or failing webhook must never fail or hold up the request); a failure is reported
 * through `onFailure` for the audit log.
 */
export async function notifyApprovers(
  webhook: string,
  record: ApprovalRecord,
  opts: NotifyOptions,
): Promise<void> {
  try {
    await fetchBounded(webhook, {
      fetch: opts.fetch,
      method: 'POST',
      timeoutMs: opts.timeoutMs,
      maxBytes: 16 * 1024,
      accept: '*/*',
      okStatuses: DELIVERED,
      headers: { 'content-type': 'application/json', 'user-agent': 'tessera-approvals' },
      body: JSON.stringify(approvalNotification(record)),
    })
  } catch (err) {
    opts.onFailure(err instanceof FetchFailure ? `webhook ${err.message}` : 'webhook call failed')
  }
}

/** Control characters (newlines included) become spaces: the summary stays one line. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
}

/**
 * Slack-style receivers read `<url|label>` as a link and `<!channel>` as a mention in `text`: the
 * requester's reason must not become a link shown to approvers, so `&`, `<` and `>` are escaped as
 * those receivers expect.
 */
function escapeMarkup(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

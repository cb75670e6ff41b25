import * as z from 'zod'

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** True for hosts that never leave the machine (plain HTTP is allowed only for these). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

/**
 * The one URL policy (docs/design.md, "URL policy") for every URL Tessera trusts or calls: issuers,
 * JWKS and discovery URLs, the broker's own endpoints, webhooks, AWS endpoint overrides. Absolute,
 * no whitespace or backslash, no credentials, no fragment, https; plain http only for a loopback
 * host (local development and test fakes). A URL learned from a fetched document (a discovered
 * jwks_uri) may be plain-http loopback only when that document's own URL was too, so a remote
 * document can never point Tessera at a local service (on Lambda, the runtime API).
 * Returns the problem, or undefined when the URL is acceptable.
 */
export function urlProblem(
  text: string,
  what: string,
  opts: { readonly query?: boolean; readonly learnedFrom?: string } = {},
): string | undefined {
  // The URL parser strips or rewrites these (tabs, edge spaces, `\` as `/`), so the checked URL
  // would differ from the text used as an identifier.
  if (/[\s\\]/.test(text)) return `${what} must not contain whitespace or backslashes`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `${what} '${text}' is not an absolute URL`
  }
  if (url.username || url.password) return `${what} must not carry credentials`
  if (url.hash || text.includes('#')) return `${what} must not have a fragment`
  // An empty query ("…/?") leaves `search` empty: look at the text too.
  if (opts.query === false && (url.search || text.includes('?'))) return `${what} must not have a query`
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname) && plainOrigin(opts.learnedFrom))
    return undefined
  return opts.learnedFrom === undefined
    ? `${what} must use https (plain http is allowed only for loopback hosts)`
    : `${what} must use https (plain http only when learned from a loopback URL)`
}

/** A URL learned from nowhere, or from a plain-http loopback URL, may itself be plain-http loopback. */
function plainOrigin(learnedFrom: string | undefined): boolean {
  if (learnedFrom === undefined) return true
  try {
    const from = new URL(learnedFrom)
    return from.protocol === 'http:' && isLoopbackHost(from.hostname)
  } catch {
    return false
  }
}

/** An https URL (http only on loopback), no credentials, no fragment. */
export const HttpsUrlSchema = z.string().superRefine((text, ctx) => {
  const problem = urlProblem(text, 'URL')
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** An issuer identifier (RFC 8414 §2): an https URL without query or fragment. */
export const IssuerSchema = z.string().superRefine((text, ctx) => {
  const problem = urlProblem(text, 'issuer', { query: false })
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

import * as z from 'zod'

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** True for hosts that never leave the machine (plain HTTP is allowed only for these). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

function checkUrl(text: string, what: string): string | undefined {
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
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined
  return `${what} must use https (plain http is allowed only for loopback hosts)`
}

/** An https URL (http only on loopback), no credentials, no fragment. */
export const HttpsUrlSchema = z.string().superRefine((text, ctx) => {
  const problem = checkUrl(text, 'URL')
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** An issuer identifier (RFC 8414 §2): an https URL without query or fragment. */
export const IssuerSchema = z.string().superRefine((text, ctx) => {
  const problem = checkUrl(text, 'issuer')
  if (problem) return ctx.addIssue({ code: 'custom', message: problem })
  // An empty query ("…/?") leaves `search` empty: look at the text too.
  if (new URL(text).search || text.includes('?'))
    ctx.addIssue({ code: 'custom', message: 'issuer must not have a query' })
})

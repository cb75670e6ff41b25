import type { AuditEvent } from './types.js'

/**
 * Field names that hold credentials. Their values are replaced whatever they look like: an EC2
 * PKCS#7 document or a SigV4 request is not recognisable by shape, only by where it sits.
 */
const SECRET_FIELD =
  /^(subject_?token|actor_?token|access_?token|id_?token|refresh_?token|token|assertion|authorization|cookie|client_?secret|password|secret|signature|document|pkcs7|credentials|secret_?access_?key|session_?token)$/i

/** A JWS (3 segments) or JWE (5 segments) in compact form, anywhere inside a string. */
const COMPACT_JOSE = /eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){2,4}/g
/** What is left of one at the end of a truncated string: cut, it no longer looks like a JWS. */
const JOSE_TAIL = /eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,4}$/
/**
 * Characters JSON.stringify leaves raw that some log readers take for line breaks (NEL, LINE and
 * PARAGRAPH SEPARATOR): a caller could otherwise split one audit line into two.
 */
const LINE_BREAKS = /[\u0085\u2028\u2029]/g

/** A GitHub token (installation `ghs_`, personal `ghp_`/`github_pat_`, OAuth, user, refresh) inside a string. */
const GITHUB_TOKEN = /\b(?:gh[opusr]_[A-Za-z0-9_.-]{4,}|github_pat_[A-Za-z0-9_]{4,})/g

const MAX_ITEMS = 100
const MAX_DEPTH = 6

/** Replacement for a credential field's value. */
export const REDACTED = '[redacted]'
/** Longest string kept in an audit event (characters); longer ones are cut, then scanned. */
export const MAX_AUDIT_STRING = 1024
/** Replacement for a JWT-shaped substring. */
export const REDACTED_JWT = '[redacted-jwt]'
/** Replacement for a GitHub-token-shaped substring. */
export const REDACTED_GITHUB_TOKEN = '[redacted-github-token]'

/**
 * Makes an audit event safe to write: credential-named fields redacted, JWT-shaped substrings
 * replaced, strings capped at 1 KiB (before they are scanned), NEL/U+2028/U+2029 written as
 * `\uXXXX` text, arrays at 100 entries, nesting at 6 levels. `event`, `level`
 * and `request_id` are kept as they are (they are ours, not the caller's).
 */
export function scrubAuditEvent(event: AuditEvent): AuditEvent {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(event)) {
    if (value === undefined) continue
    out[key] = key === 'event' || key === 'level' || key === 'request_id' ? value : scrubField(key, value, 1)
  }
  return out as unknown as AuditEvent
}

function scrubField(key: string, value: unknown, depth: number): unknown {
  if (SECRET_FIELD.test(key) && value !== null && value !== '') return REDACTED
  return scrubValue(value, depth)
}

function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubString(value)
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value
  }
  if (depth >= MAX_DEPTH) return '[truncated]'
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => scrubValue(v, depth + 1))
    return value.length > MAX_ITEMS ? [...items, `[+${value.length - MAX_ITEMS} more]`] : items
  }
  if (value instanceof Date) return value.toISOString()
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) out[k] = scrubField(k, v, depth + 1)
  }
  return out
}

/**
 * Truncates first, then scans: the regular expressions only ever see MAX_AUDIT_STRING characters, so the
 * cost is bounded whatever the caller sent (scanning first is quadratic on `eyJ` repeated).
 */
function scrubString(text: string): string {
  const truncated = text.length > MAX_AUDIT_STRING
  let clean = (truncated ? text.slice(0, MAX_AUDIT_STRING) : text)
    .replace(COMPACT_JOSE, REDACTED_JWT)
    .replace(GITHUB_TOKEN, REDACTED_GITHUB_TOKEN)
  if (truncated) clean = `${clean.replace(JOSE_TAIL, REDACTED_JWT)}…[truncated]`
  return clean.replace(LINE_BREAKS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

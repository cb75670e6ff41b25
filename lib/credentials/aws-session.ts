import { createHash } from 'node:crypto'
import { parseTemplate } from '../config/aws-grant.js'
import { InvalidTarget, TemplateError } from '../errors.js'

/**
 * AssumeRole session parameters derived from a verified subject: RoleSessionName, SourceIdentity and
 * session tags. Every value is made to fit AWS's character set and length rules by an encoding that
 * stays injective: a value that already fits (and holds no "=") is sent as it is; any other value
 * becomes a readable prefix, "=", and 22 base64url characters (132 bits) of its SHA-256. Plain values
 * never contain "=", encoded ones contain exactly one, so two distinct subjects never share a session
 * name, source identity or tag value — which matters because IAM conditions (sts:SourceIdentity,
 * aws:PrincipalTag/…) grant on these strings.
 */

/** The marker separating a sanitised prefix from its hash; never present in a plain value. */
const MARK = '='
const HASH_CHARS = 22

/** RoleSessionName and SourceIdentity: 2–64 characters of `[\w+=,.@-]` (AWS STS API reference). */
export const SESSION_ID_RE = /^[\w+=,.@-]{2,64}$/
const SESSION_ID_CHAR = /^[\w+,.@-]$/
/** Session tag keys and values: letters, separators (spaces), numbers and `_ . : / = + - @`. */
const TAG_CHAR = /^[\p{L}\p{Z}\p{N}_.:/+\-@]$/u
export const MAX_TAG_VALUE = 256

interface EncodingRule {
  /** One code point that may appear in a plain value (the marker excluded). */
  readonly allowed: RegExp
  readonly min: number
  readonly max: number
}

const SESSION_ID_RULE: EncodingRule = { allowed: SESSION_ID_CHAR, min: 2, max: 64 }
const TAG_VALUE_RULE: EncodingRule = { allowed: TAG_CHAR, min: 0, max: MAX_TAG_VALUE }

/** Encodes `value` to fit `rule`, injectively (see the module comment). Lengths count UTF-16 units. */
function encodeValue(value: string, rule: EncodingRule): string {
  const chars = Array.from(value)
  const plain = chars.every((c) => rule.allowed.test(c))
  if (plain && value.length >= rule.min && value.length <= rule.max) return value
  const hash = createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, HASH_CHARS)
  const room = rule.max - MARK.length - HASH_CHARS
  let prefix = ''
  for (const c of chars) {
    const safe = rule.allowed.test(c) ? c : '-'
    if (prefix.length + safe.length > room) break
    prefix += safe
  }
  return `${prefix}${MARK}${hash}`
}

/** RoleSessionName for a subject (`<provider>:<sub>`): deterministic, AWS-valid, distinct for distinct subjects. */
export function roleSessionName(identity: string): string {
  return encodeValue(identity, SESSION_ID_RULE)
}

/** Encodes a rendered SourceIdentity (same rules as session names; never starts with "aws:"). */
export function encodeSourceIdentity(value: string): string {
  // ":" is outside the character set, so an "aws:" prefix can never survive the encoding.
  return encodeValue(value, SESSION_ID_RULE)
}

/** Encodes a rendered session tag value to AWS's tag character set, ≤ 256 characters. */
export function encodeTagValue(value: string): string {
  return encodeValue(value, TAG_VALUE_RULE)
}

/** A claim as template text: strings, finite numbers and booleans only. */
function scalarText(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  if (!Object.hasOwn(claims, name)) return undefined
  const v = claims[name]
  if (typeof v === 'string') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'boolean') return String(v)
  return undefined
}

/** Renders a template over the subject's claims; a missing or non-scalar claim throws TemplateError. */
export function renderTemplate(template: string, claims: Readonly<Record<string, unknown>>): string {
  let out = ''
  for (const part of parseTemplate(template)) {
    if ('text' in part) {
      out += part.text
      continue
    }
    const text = scalarText(claims, part.claim)
    if (text === undefined) {
      throw new TemplateError(
        `needs claim '${part.claim}' as a string, number or boolean, and the subject has none`,
      )
    }
    out += text
  }
  return out
}

/** AssumeRole `Tags` for a subject. Refuses (InvalidTarget) rather than omitting a tag it cannot fill. */
export function renderSessionTags(
  templates: Readonly<Record<string, string>> | undefined,
  claims: Readonly<Record<string, unknown>>,
  policy: string,
): { Key: string; Value: string }[] {
  if (!templates) return []
  // A missing tag could widen access under an IAM condition such as StringNotEquals, so never omit one.
  return Object.entries(templates).map(([key, template]) => {
    try {
      return { Key: key, Value: encodeTagValue(renderTemplate(template, claims)) }
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err
      throw new InvalidTarget(`policy '${policy}' cannot be granted: session tag '${key}' ${err.message}`)
    }
  })
}

/** SourceIdentity for a subject: the grant's template, or `<provider>:<sub>` (`identity`). Always set. */
export function renderSourceIdentity(
  template: string | undefined,
  identity: string,
  claims: Readonly<Record<string, unknown>>,
  policy: string,
): string {
  if (template === undefined) return encodeSourceIdentity(identity)
  let text: string
  try {
    text = renderTemplate(template, claims)
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err
    throw new InvalidTarget(`policy '${policy}' cannot be granted: sourceIdentity ${err.message}`)
  }
  if (text === '') {
    throw new InvalidTarget(`policy '${policy}' cannot be granted: sourceIdentity renders to an empty string`)
  }
  return encodeSourceIdentity(text)
}

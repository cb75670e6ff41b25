import { createHash } from 'node:crypto'
import type { AwsGrant } from '../config/schema.js'
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
const TAG_KEY_CHAR_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u
export const MAX_TAGS = 50
export const MAX_TAG_KEY = 128
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

/** One piece of a parsed template: literal text or a claim reference. */
type TemplatePart = { readonly text: string } | { readonly claim: string }

const PLACEHOLDER_RE = /\{\{\s*([^{}\s]{1,128})\s*\}\}/g

/**
 * Parses a `{{claim}}` template. Only top-level claim names may be referenced: no paths, filters,
 * defaults or environment; any brace outside a placeholder is an error so a typo cannot become a literal.
 */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = []
  let last = 0
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    if (m.index > last) parts.push({ text: template.slice(last, m.index) })
    parts.push({ claim: m[1] as string })
    last = m.index + m[0].length
  }
  if (last < template.length) parts.push({ text: template.slice(last) })
  for (const p of parts) {
    if ('text' in p && /[{}]/.test(p.text)) {
      throw new TemplateError('has a malformed {{claim}} placeholder (literal braces are not allowed)')
    }
  }
  return parts
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

/** Checks one session tag key against AWS's rules; returns a problem or undefined. */
export function tagKeyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > MAX_TAG_KEY) return `tag key must be 1-${MAX_TAG_KEY} characters`
  if (!TAG_KEY_CHAR_RE.test(key)) return 'tag key may hold only letters, numbers, spaces and _ . : / = + - @'
  if (key.toLowerCase().startsWith('aws:')) return 'tag keys starting with "aws:" are reserved by AWS'
  return undefined
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

/** AWS limit on an inline session policy, counted on the minified JSON text. */
export const MAX_SESSION_POLICY_CHARS = 2048

/** One issue with an `aws` grant, located relative to `grant.aws`. */
export interface AwsGrantIssue {
  readonly path: readonly (string | number)[]
  readonly message: string
}

/** Every config-load problem of an `aws` grant (tags, templates, session policy size). */
export function awsGrantIssues(grant: AwsGrant): AwsGrantIssue[] {
  const issues: AwsGrantIssue[] = []
  if (grant.sessionPolicy !== undefined) {
    const packed = packSessionPolicy(grant.sessionPolicy)
    if (packed === undefined) {
      issues.push({ path: ['sessionPolicy'], message: 'must be a JSON object (an IAM policy document)' })
    } else if (packed.length > MAX_SESSION_POLICY_CHARS) {
      issues.push({
        path: ['sessionPolicy'],
        message: `is ${packed.length} characters as minified JSON; AWS allows at most ${MAX_SESSION_POLICY_CHARS}`,
      })
    }
  }
  const tags = Object.entries(grant.sessionTags ?? {})
  if (tags.length > MAX_TAGS) {
    issues.push({ path: ['sessionTags'], message: `at most ${MAX_TAGS} session tags are allowed` })
  }
  const seen = new Set<string>()
  for (const [key, template] of tags) {
    const keyProblem = tagKeyProblem(key)
    if (keyProblem) issues.push({ path: ['sessionTags', key], message: keyProblem })
    // AWS treats tag keys case-insensitively and refuses duplicates.
    if (seen.has(key.toLowerCase())) {
      issues.push({
        path: ['sessionTags', key],
        message: 'repeats a tag key (AWS compares keys case-insensitively)',
      })
    }
    seen.add(key.toLowerCase())
    const templateProblem = templateIssue(template)
    if (templateProblem) issues.push({ path: ['sessionTags', key], message: templateProblem })
  }
  if (grant.sourceIdentity !== undefined) {
    const problem = templateIssue(grant.sourceIdentity)
    if (problem) issues.push({ path: ['sourceIdentity'], message: problem })
  }
  return issues
}

/** Config-load check of an `aws` grant: the first problem as `<field>: <message>`, or undefined. */
export function validateAwsGrant(grant: AwsGrant): string | undefined {
  const first = awsGrantIssues(grant)[0]
  return first ? `${first.path.join('.')}: ${first.message}` : undefined
}

function templateIssue(template: string): string | undefined {
  try {
    parseTemplate(template)
    return undefined
  } catch (err) {
    if (err instanceof TemplateError) return err.message
    throw err
  }
}

/** The session policy as minified JSON, or undefined when it is not a JSON object. */
export function packSessionPolicy(policy: NonNullable<AwsGrant['sessionPolicy']>): string | undefined {
  let doc: unknown = policy
  if (typeof policy === 'string') {
    try {
      doc = JSON.parse(policy)
    } catch {
      return undefined
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined
  return JSON.stringify(doc)
}

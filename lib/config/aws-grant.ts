import { TemplateError } from '../errors.js'
import type { AwsGrant } from './schema.js'

/**
 * Config-load validation of an `aws` grant (tag keys, `{{claim}}` templates, the session policy's
 * size), next to its schema: loading a config needs no minting code. The rendering of these
 * templates for a verified subject is lib/credentials/aws-session.ts.
 */

/** Session tag keys: letters, separators (spaces), numbers and `_ . : / = + - @`. */
const TAG_KEY_CHAR_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u
export const MAX_TAGS = 50
export const MAX_TAG_KEY = 128

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

/** Checks one session tag key against AWS's rules; returns a problem or undefined. */
export function tagKeyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > MAX_TAG_KEY) return `tag key must be 1-${MAX_TAG_KEY} characters`
  if (!TAG_KEY_CHAR_RE.test(key)) return 'tag key may hold only letters, numbers, spaces and _ . : / = + - @'
  if (key.toLowerCase().startsWith('aws:')) return 'tag keys starting with "aws:" are reserved by AWS'
  return undefined
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

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_AUDIT_STRING, REDACTED_JWT, scrubAuditEvent } from '../../lib/audit/scrub-event.js'

const scrubbed = (reason: string) =>
  scrubAuditEvent({ event: 'e', level: 'INFO', request_id: 'r', reason }).reason as string

const JWT =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIiwiYXVkIjoiaHR0cHM6Ly9zdHMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ'

describe('scrubAuditEvent: bounded work on hostile strings', () => {
  it('property: the output depends only on the first MAX_AUDIT_STRING characters (nothing past them is scanned)', () => {
    const head = fc.string({ minLength: MAX_AUDIT_STRING, maxLength: MAX_AUDIT_STRING })
    fc.assert(
      fc.property(head, fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (h, x, y) => {
        return scrubbed(h + x) === scrubbed(h + y)
      }),
    )
  })

  it('a 64 KiB body of eyJ and a 16 MiB one come out as the same bounded string', () => {
    const small = scrubbed('eyJ'.repeat(22_000))
    const huge = scrubbed('eyJ'.repeat(5_600_000))
    expect(small).toBe(huge)
    expect(small.length).toBeLessThanOrEqual(MAX_AUDIT_STRING + 20)
  })

  it('a JWT cut by the truncation leaves no fragment of its header or payload', () => {
    for (let pad = MAX_AUDIT_STRING - JWT.length - 5; pad < MAX_AUDIT_STRING; pad += 7) {
      const out = scrubbed(`${' '.repeat(pad)}${JWT}${'z'.repeat(2000)}`)
      expect(out).not.toContain('eyJhbGci')
      expect(out).not.toContain('eyJzdWIi')
      expect(out).toMatch(/…\[truncated\]$/)
    }
  })

  it('still redacts a whole JWT inside the kept part', () => {
    expect(scrubbed(`token ${JWT} end`)).toBe(`token ${REDACTED_JWT} end`)
  })

  it('keeps short ordinary strings as they are', () => {
    expect(scrubbed('urn:ietf:params:oauth:token-type:jwt')).toBe('urn:ietf:params:oauth:token-type:jwt')
    expect(scrubbed('a'.repeat(MAX_AUDIT_STRING))).toBe('a'.repeat(MAX_AUDIT_STRING))
  })

  it('writes NEL, LINE and PARAGRAPH SEPARATOR as escapes, so one event stays one line', () => {
    const out = scrubbed('a\u2028b\u2029c\u0085d')
    expect(out).toBe('a\\u2028b\\u2029c\\u0085d')
    expect(JSON.stringify({ out })).not.toMatch(/[\u0085\u2028\u2029]/)
  })

  it('property: no raw NEL or separator survives anywhere in a string', () => {
    const withBreaks = fc.array(fc.constantFrom('a', ' ', '\u2028', '\u2029', '\u0085', 'eyJ', '.'), {
      maxLength: 400,
    })
    fc.assert(fc.property(withBreaks, (parts) => !/[\u0085\u2028\u2029]/.test(scrubbed(parts.join('')))))
  })
})

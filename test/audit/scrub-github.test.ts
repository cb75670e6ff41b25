import { describe, expect, it } from 'vitest'
import { REDACTED_GITHUB_TOKEN, scrubAuditEvent } from '../../lib/audit/scrub-event.js'

const event = (reason: unknown) => scrubAuditEvent({ event: 'x', level: 'INFO', request_id: 'r', reason })

describe('audit scrubbing: GitHub tokens', () => {
  it.each([
    'ghs_16CharactersLongX0123456789abcdefgh',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'github_pat_11AAAAAAA0aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    'ghs_123456_eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl',
  ])('redacts %s inside a message', (token) => {
    const out = event(`GitHub said Bad credentials for ${token} today`)
    expect(JSON.stringify(out)).not.toContain(token.slice(4, 16))
    expect(out.reason).toContain(REDACTED_GITHUB_TOKEN)
  })

  it('keeps ordinary words and base64 hashes', () => {
    const hash = 'q1mR3c7ZCvlD2T5Rk3p0ZbO5p3VQ0k+Ue1y4T3xg/ZE='
    expect(event(`issued ${hash} for ghs and gh_ words`).reason).toBe(`issued ${hash} for ghs and gh_ words`)
  })
})

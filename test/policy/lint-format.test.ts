import { describe, expect, it } from 'vitest'
import type { Finding } from '../../lib/policy/lint.js'
import { formatFindings, summarize } from '../../lib/policy/lint-format.js'

const FINDINGS: Finding[] = [
  {
    rule: 'broad-subject',
    severity: 'error',
    message: 'policy "p": sub "repo:acme/*:*" matches any repository of acme',
    hint: 'pin it, or add allowBroad: "<reason>"',
    path: ['policies', 0, 'match', 'sub'],
    file: 'conf,ig.yaml',
    line: 12,
    col: 7,
  },
  {
    rule: 'ttl-long',
    severity: 'warning',
    message: 'policy "p" grants credentials for 2h (over 1h)\nsecond line 100%',
    hint: 'shorter',
    path: ['policies', 0, 'grant', 'token', 'ttl'],
  },
  {
    rule: 'overlapping-grant',
    severity: 'info',
    message: 'policies "a" and "b" overlap',
    hint: 'merge',
    path: ['policies', 1, 'grant'],
    file: 'c.yaml',
  },
]

describe('formatFindings', () => {
  it('renders human text without colours', () => {
    expect(formatFindings(FINDINGS, 'human')).toMatchInlineSnapshot(`
      "conf,ig.yaml:12:7  error  broad-subject  policy "p": sub "repo:acme/*:*" matches any repository of acme
          hint: pin it, or add allowBroad: "<reason>"
      policies[0].grant.token.ttl  warning  ttl-long  policy "p" grants credentials for 2h (over 1h)
      second line 100%
          hint: shorter
      c.yaml (policies[1].grant)  info  overlapping-grant  policies "a" and "b" overlap
          hint: merge
      1 error, 1 warning, 1 info
      "
    `)
  })

  it('adds ANSI colours only when asked', () => {
    const text = formatFindings(FINDINGS, 'human', { color: true })
    expect(text).toContain('\x1b[31merror\x1b[0m')
    expect(text).toContain('\x1b[33mwarning\x1b[0m')
    expect(formatFindings(FINDINGS, 'human')).not.toContain('\x1b[')
  })

  it('keeps control characters from the config out of the terminal', () => {
    const hostile = [{ ...FINDINGS[2], message: 'evil \x1b]0;title\x07 text' } as Finding]
    expect([...formatFindings(hostile, 'human')].some((c) => c === '\x07' || c === '\x1b')).toBe(false)
  })

  it('says so when there is nothing to report', () => {
    expect(formatFindings([], 'human')).toBe('no findings\n')
    expect(formatFindings([], 'github')).toBe('')
  })

  it('renders JSON with a summary', () => {
    const parsed = JSON.parse(formatFindings(FINDINGS, 'json'))
    expect(parsed.summary).toEqual({ error: 1, warning: 1, info: 1 })
    expect(parsed.findings[0]).toEqual(FINDINGS[0])
  })

  it('renders GitHub workflow annotations with escaping', () => {
    expect(formatFindings(FINDINGS, 'github')).toMatchInlineSnapshot(`
      "::error file=conf%2Cig.yaml,line=12,col=7,title=broad-subject::policy "p": sub "repo:acme/*:*" matches any repository of acme%0Ahint: pin it, or add allowBroad: "<reason>"
      ::warning title=ttl-long::policy "p" grants credentials for 2h (over 1h)%0Asecond line 100%25%0Ahint: shorter
      ::notice file=c.yaml,title=overlapping-grant::policies "a" and "b" overlap%0Ahint: merge
      "
    `)
  })

  it('counts by severity', () => {
    expect(summarize([])).toEqual({ error: 0, warning: 0, info: 0 })
    expect(summarize(FINDINGS)).toEqual({ error: 1, warning: 1, info: 1 })
  })
})

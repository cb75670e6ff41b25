import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { insightsQuery, matchesFilter, parseAuditText, parseTimeBound } from '../../lib/audit/query.js'

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0)
const line = (o: Record<string, unknown>) => ({
  level: 'INFO',
  message: o.event,
  timestamp: new Date(NOW).toISOString(),
  service: 'tessera',
  request_id: 'r1',
  ...o,
})
const events = [
  line({ event: 'token.exchange', provider: 'gh', sub: 'repo:a', policy: 'deploy', token_sha256: 'H1' }),
  line({ event: 'token.denied', provider: 'gh', sub: 'repo:b', token_sha256: 'H2', error: 'invalid_target' }),
  line({
    event: 'token.exchange',
    provider: 'ec2',
    sub: 'arn:x',
    policy: 'agent',
    instance_id: 'i-1',
    token_sha256: 'H3',
    timestamp: new Date(NOW - 3 * 3_600_000).toISOString(),
  }),
  line({
    event: 'token.exchange',
    provider: 'gh',
    sub: 'repo:a',
    policy: 'gh-app',
    issued_token_hash: 'GHHASH=',
  }),
]
const jsonLines = events.map((e) => JSON.stringify(e)).join('\n')

describe('parseAuditText', () => {
  it('reads plain JSON lines and skips other output', () => {
    const { lines, skipped } = parseAuditText(`${jsonLines}\nnot json\n{"no":"event"}\n\n`)
    expect(lines).toEqual(events)
    expect(skipped).toBe(2)
  })

  it('reads CloudWatch export lines ({"message": "<json line>"} per line)', () => {
    const text = events
      .map((e, i) => JSON.stringify({ timestamp: NOW, message: JSON.stringify(e), eventId: String(i) }))
      .join('\n')
    expect(parseAuditText(text).lines).toEqual(events)
  })

  it('reads the {"events": [...]} document of filter-log-events, pretty-printed', () => {
    const doc = {
      events: events.map((e) => ({ logStreamName: 's', message: JSON.stringify(e) })),
      searchedLogStreams: [],
    }
    expect(parseAuditText(JSON.stringify(doc, null, 2)).lines).toEqual(events)
  })

  it('skips a message that is not an audit event, and never throws on garbage', () => {
    expect(parseAuditText('{"message":"START RequestId: x"}').lines).toEqual([])
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(() => parseAuditText(s)).not.toThrow()
      }),
    )
  })

  it('reads nothing from empty input', () => {
    expect(parseAuditText('')).toEqual({ lines: [], skipped: 0 })
  })
})

describe('matchesFilter', () => {
  const pick = (f: Parameters<typeof matchesFilter>[1]) => events.filter((e) => matchesFilter(e, f))
  it('filters by each field, all together (AND)', () => {
    expect(pick({ sub: 'repo:a' })).toHaveLength(2)
    expect(pick({ provider: 'ec2' })).toHaveLength(1)
    expect(pick({ policy: 'deploy' })).toHaveLength(1)
    expect(pick({ event: 'token.denied' })).toHaveLength(1)
    expect(pick({ instance: 'i-1' })).toHaveLength(1)
    expect(pick({ sub: 'repo:a', policy: 'agent' })).toHaveLength(0)
  })

  it('finds a token hash in the presented-token and the issued-token fields', () => {
    expect(pick({ tokenSha256: 'H2' })).toEqual([events[1]])
    expect(pick({ tokenSha256: 'GHHASH=' })).toEqual([events[3]])
    expect(pick({ tokenSha256: 'h2' })).toEqual([])
  })

  it('filters by time, and a line without a time never matches a time filter', () => {
    expect(pick({ since: NOW - 3_600_000 })).toHaveLength(3)
    expect(pick({ until: NOW - 3_600_000 })).toHaveLength(1)
    expect(matchesFilter({ event: 'x' }, { since: 0 })).toBe(false)
  })

  it('never matches on a value of another type', () => {
    expect(matchesFilter({ event: 'x', sub: 42 }, { sub: '42' })).toBe(false)
  })
})

describe('parseTimeBound', () => {
  it('takes durations back from now and ISO times', () => {
    expect(parseTimeBound('2h', NOW)).toBe(NOW - 7_200_000)
    expect(parseTimeBound('7d', NOW)).toBe(NOW - 7 * 86_400_000)
    expect(parseTimeBound('2026-12-06T10:00:00Z', NOW)).toBe(Date.UTC(2026, 11, 6, 10))
    expect(parseTimeBound('2026-12-06', NOW)).toBe(Date.UTC(2026, 11, 6))
  })

  it('refuses anything else', () => {
    for (const bad of ['', '2', '2 h', 'yesterday', '-2h', '2026-13-45', '2026-12-06Tnope', '1e3s']) {
      expect(parseTimeBound(bad, NOW)).toBeUndefined()
    }
  })
})

describe('insightsQuery', () => {
  it('selects the same events in CloudWatch Logs Insights syntax', () => {
    expect(insightsQuery({ sub: 'repo:a', event: 'token.exchange', since: 1000 })).toBe(
      [
        'fields @timestamp, event, level, request_id, provider, sub, policy, token_sha256, instance_id, error',
        '| filter event = "token.exchange" and sub = "repo:a" and @timestamp >= 1000',
        '| sort @timestamp desc',
      ].join('\n'),
    )
  })

  it('escapes quotes and backslashes so a value cannot change the query', () => {
    const q = insightsQuery({ sub: 'a" or sub != "b\\' })
    expect(q).toContain('sub = "a\\" or sub != \\"b\\\\"')
  })

  it('looks for a token hash in every hash field', () => {
    expect(insightsQuery({ tokenSha256: 'H' })).toContain('(token_sha256 = "H" or issued_token_hash = "H"')
  })

  it('without filters selects every audit event', () => {
    expect(insightsQuery({})).toContain('| filter ispresent(event)')
  })
})

import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createJsonLineAuditSink,
  createLoggerAuditSink,
  MemoryAuditSink,
} from '../../lib/audit/logger-sink.js'
import { REDACTED, REDACTED_JWT, scrubAuditEvent } from '../../lib/audit/scrub-event.js'
import type { AuditEvent } from '../../lib/audit/types.js'
import { captureStdout } from './capture-stdout.js'

const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2lzc3VlciIsInN1YiI6InJlcG86YWNtZS9hcHAifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU'

const allowed: AuditEvent = {
  event: 'token.exchange',
  level: 'INFO',
  request_id: 'req-1',
  time: '2023-11-14T22:13:20.000Z',
  provider: 'gha',
  issuer: 'https://token.actions.githubusercontent.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  token_sha256: 'q1w2e3',
  policy: 'deploy',
  audience: ['https://api.example.com'],
  scope: 'deploy:write',
  ttl: 600,
  jti: 'minted-jti',
}

async function logged(event: AuditEvent) {
  const lines = await captureStdout(() => createLoggerAuditSink().emit(event))
  expect(lines).toHaveLength(1)
  return { line: lines[0]!, json: JSON.parse(lines[0]!) as Record<string, unknown> }
}

describe('createLoggerAuditSink', () => {
  it('writes exactly one JSON line per event with event, level, request_id and the fields', async () => {
    const { json } = await logged(allowed)
    expect(json).toMatchObject({
      level: 'INFO',
      message: 'token.exchange',
      event: 'token.exchange',
      request_id: 'req-1',
      token_sha256: 'q1w2e3',
      policy: 'deploy',
      jti: 'minted-jti',
      service: 'tessera',
    })
  })

  it('maps WARN and ERROR events to those levels', async () => {
    expect((await logged({ ...allowed, event: 'instance.clone_suspected', level: 'WARN' })).json.level).toBe(
      'WARN',
    )
    expect((await logged({ ...allowed, event: 'token.denied', level: 'ERROR' })).json.level).toBe('ERROR')
  })

  it('a denied event keeps per-policy reasons (claim names and matcher kinds)', async () => {
    const { json } = await logged({
      event: 'token.denied',
      level: 'INFO',
      request_id: 'r',
      error: 'invalid_target',
      policies: [{ policy: 'deploy', failed: ['ref:glob:no-match'] }],
    })
    expect(json.policies).toEqual([{ policy: 'deploy', failed: ['ref:glob:no-match'] }])
  })

  it('never writes a raw token passed in a credential field', async () => {
    for (const field of [
      'subject_token',
      'actor_token',
      'access_token',
      'token',
      'assertion',
      'authorization',
    ]) {
      const { line, json } = await logged({ ...allowed, [field]: JWT })
      expect(line).not.toContain(JWT)
      expect(json[field]).toBe(REDACTED)
    }
  })

  it('never writes a JWT-shaped string hidden in any field, however deep', async () => {
    const { line, json } = await logged({
      ...allowed,
      reason: `bad token ${JWT} given`,
      nested: { list: [{ deeper: JWT }] },
    })
    expect(line).not.toContain(JWT)
    expect(line).not.toContain(JWT.split('.')[1])
    expect(json.reason).toBe(`bad token ${REDACTED_JWT} given`)
  })

  it('redacts non-JWT credentials by field name (EC2 document, SigV4 signature)', async () => {
    const { line } = await logged({
      ...allowed,
      document: 'MIAGCSqGSIb3DQEHAqCAMIACAQEx',
      signature: 'abc123',
    })
    expect(line).not.toContain('MIAGCSqGSIb3DQEHAqCAMIACAQEx')
    expect(line).not.toContain('abc123')
  })

  it('caps long strings and large arrays', async () => {
    const { json } = await logged({
      ...allowed,
      reason: 'x'.repeat(5000),
      many: Array.from({ length: 500 }, (_, i) => i),
    })
    expect((json.reason as string).length).toBeLessThan(1100)
    expect((json.many as unknown[]).length).toBe(101)
  })
})

describe('scrubAuditEvent', () => {
  it('keeps the token hash and the ordinary fields untouched', () => {
    expect(scrubAuditEvent(allowed)).toEqual(allowed)
  })

  it('drops undefined fields', () => {
    expect(scrubAuditEvent({ ...allowed, policy: undefined })).not.toHaveProperty('policy')
  })

  it('property: no compact JWS embedded in any string survives', () => {
    const seg = fc.stringMatching(/^[A-Za-z0-9_-]{4,40}$/)
    fc.assert(
      fc.property(
        seg,
        seg,
        seg,
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (p, q, s, pre, post) => {
          const jwt = `eyJ${p}.${q}.${s}`
          const out = JSON.stringify(
            scrubAuditEvent({
              event: 'e',
              level: 'INFO',
              request_id: 'r',
              reason: `${pre}${jwt}${post}`,
              x: [jwt],
            }),
          )
          return !out.includes(jwt)
        },
      ),
    )
  })

  it('MemoryAuditSink scrubs like the logger sink', () => {
    const sink = new MemoryAuditSink()
    sink.emit({ ...allowed, subject_token: JWT })
    expect(JSON.stringify(sink.events)).not.toContain(JWT)
  })
})

describe('createJsonLineAuditSink (tessera serve)', () => {
  function emitted(event: AuditEvent): { line: string; json: Record<string, unknown> } {
    const lines: string[] = []
    const out = { write: (chunk: string) => lines.push(chunk) } as unknown as NodeJS.WritableStream
    createJsonLineAuditSink(out).emit(event)
    expect(lines).toHaveLength(1)
    expect(lines[0]?.endsWith('\n')).toBe(true)
    return { line: lines[0] as string, json: JSON.parse(lines[0] as string) }
  }

  it('writes the same fields as the Powertools sink', async () => {
    const { json } = emitted(allowed)
    const { json: powertools } = await logged(allowed)
    for (const key of [
      'level',
      'message',
      'service',
      'event',
      'request_id',
      'token_sha256',
      'policy',
      'jti',
    ]) {
      expect(json[key], key).toEqual(powertools[key])
    }
    expect(typeof json.timestamp).toBe('string')
  })

  it('scrubs like the Powertools sink: no raw token in a credential field or hidden deep', () => {
    const { line } = emitted({ ...allowed, subject_token: JWT, nested: { deeper: [`x ${JWT} y`] } })
    expect(line).not.toContain(JWT.split('.')[1])
    expect(line).toContain(REDACTED)
  })
})

describe('createJsonLineAuditSink: a stalled reader', () => {
  const event = (i: number): AuditEvent => ({ event: 'token.exchange', level: 'INFO', request_id: `r${i}` })

  it('never queues more than the bound; the lines beyond it are dropped and counted', () => {
    const out = new PassThrough({ highWaterMark: 1024 })
    const sink = createJsonLineAuditSink(out, 'tessera', 64 * 1024)
    for (let i = 0; i < 20_000; i++) sink.emit(event(i))
    expect(out.writableLength).toBeLessThan(64 * 1024 + 1024)
    expect(sink.dropped()).toBeGreaterThan(15_000)
  })

  it('once the reader catches up, one audit.dropped WARN line says how many were lost, then lines flow again', async () => {
    const out = new PassThrough({ highWaterMark: 1024 })
    const sink = createJsonLineAuditSink(out, 'tessera', 16 * 1024)
    for (let i = 0; i < 1000; i++) sink.emit(event(i))
    const lost = sink.dropped()
    expect(lost).toBeGreaterThan(0)
    const lines: string[] = []
    out.setEncoding('utf8')
    out.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)))
    await new Promise((r) => setImmediate(r))
    sink.emit(event(1001))
    await new Promise((r) => setImmediate(r))
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const warnings = parsed.filter((p) => p.event === 'audit.dropped')
    expect(warnings).toEqual([expect.objectContaining({ level: 'WARN', dropped: lost, dropped_total: lost })])
    expect(parsed.at(-1)).toMatchObject({ request_id: 'r1001' })
    expect(parsed.filter((p) => p.event === 'token.exchange')).toHaveLength(1000 - lost + 1)
  })

  it('drops nothing while the reader keeps up', () => {
    const written: string[] = []
    const sink = createJsonLineAuditSink({ write: (c: string) => written.push(c), writableLength: 0 })
    for (let i = 0; i < 100; i++) sink.emit(event(i))
    expect(written).toHaveLength(100)
    expect(sink.dropped()).toBe(0)
  })
})

import { Logger } from '@aws-lambda-powertools/logger'
import { scrubAuditEvent } from './scrub-event.js'
import type { AuditEvent, AuditSink } from './types.js'

/**
 * Audit sink writing one JSON line per event through Powertools Logger (CloudWatch on Lambda,
 * stdout locally). Every event passes `scrubAuditEvent` first (defence in depth: credential-named
 * fields and JWT-shaped strings are redacted even if a caller slips one in). The default logger
 * is pinned to INFO so audit decisions are never filtered by a quieter application log level.
 */
export function createLoggerAuditSink(
  logger: Logger = new Logger({ serviceName: 'tessera', logLevel: 'INFO' }),
): AuditSink {
  return {
    emit(event: AuditEvent) {
      const { level, event: name, ...fields } = scrubAuditEvent(event)
      const method = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'info'
      logger[method]({ message: name, event: name, ...fields })
    },
  }
}

/** Where `tessera serve` writes its audit lines: stdout, or any stream with the same members. */
export interface LineOutput {
  write(chunk: string): unknown
  /** Bytes queued but not yet taken by the reader (Node streams). */
  readonly writableLength?: number
  once?(event: 'drain', listener: () => void): unknown
}

/** Bytes the audit output may queue for a slow reader before lines are dropped (and counted). */
export const MAX_BUFFERED_AUDIT_BYTES = 8 * 1024 * 1024

/** An audit sink that also reports how many lines it had to drop. */
export interface JsonLineAuditSink extends AuditSink {
  /** Lines dropped so far because the reader of the output did not keep up. */
  readonly dropped: () => number
}

/**
 * The same JSON line as the Powertools sink (`level`, `message`, `timestamp`, `service`, fields),
 * written straight to a stream: `tessera serve` uses it, where Powertools' per-line merging costs
 * a quarter of an exchange. Lambda keeps Powertools (log level control, CloudWatch conventions).
 * A reader that stops reading (a stalled pipe) cannot grow memory without bound: past
 * `maxBuffered` queued bytes lines are dropped, counted, and an `audit.dropped` WARN line with the
 * count is written once the output drains.
 */
export function createJsonLineAuditSink(
  out: LineOutput = process.stdout,
  service = 'tessera',
  maxBuffered = MAX_BUFFERED_AUDIT_BYTES,
): JsonLineAuditSink {
  let dropped = 0
  let total = 0
  let waiting = false
  const line = (level: string, name: string, fields: Record<string, unknown>) =>
    `${JSON.stringify({ level, message: name, timestamp: new Date().toISOString(), service, event: name, ...fields })}\n`
  const report = () => {
    waiting = false
    if (dropped === 0) return
    out.write(line('WARN', 'audit.dropped', { dropped, dropped_total: total }))
    dropped = 0
  }
  return {
    emit(event: AuditEvent) {
      if ((out.writableLength ?? 0) > maxBuffered) {
        dropped++
        total++
        if (!waiting && out.once) {
          waiting = true
          out.once('drain', report)
        }
        return
      }
      if (dropped > 0) report()
      const { level, event: name, ...fields } = scrubAuditEvent(event)
      out.write(line(level, name, fields))
    },
    dropped: () => total,
  }
}

/** Collects events in memory (tests, `policy explain`); scrubbed exactly like the logger sink. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = []
  emit(event: AuditEvent): void {
    this.events.push(scrubAuditEvent(event))
  }
}

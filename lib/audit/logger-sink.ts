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

/**
 * The same JSON line as the Powertools sink (`level`, `message`, `timestamp`, `service`, fields),
 * written straight to a stream: `tessera serve` uses it, where Powertools' per-line merging costs
 * a quarter of an exchange. Lambda keeps Powertools (log level control, CloudWatch conventions).
 */
export function createJsonLineAuditSink(
  out: NodeJS.WritableStream = process.stdout,
  service = 'tessera',
): AuditSink {
  return {
    emit(event: AuditEvent) {
      const { level, event: name, ...fields } = scrubAuditEvent(event)
      const line = {
        level,
        message: name,
        timestamp: new Date().toISOString(),
        service,
        event: name,
        ...fields,
      }
      out.write(`${JSON.stringify(line)}\n`)
    },
  }
}

/** Collects events in memory (tests, `policy explain`); scrubbed exactly like the logger sink. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = []
  emit(event: AuditEvent): void {
    this.events.push(scrubAuditEvent(event))
  }
}

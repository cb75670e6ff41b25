import { Logger } from '@aws-lambda-powertools/logger'
import type { AuditEvent, AuditSink } from './types.js'

/** Audit sink writing one JSON line per event through Powertools Logger (CloudWatch on Lambda, stdout locally). */
export function createLoggerAuditSink(logger: Logger = new Logger({ serviceName: 'tessera' })): AuditSink {
  return {
    emit(event: AuditEvent) {
      const { level, event: name, ...fields } = event
      const method = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'info'
      logger[method]({ message: name, event: name, ...fields })
    },
  }
}

/** Collects events in memory (tests, `policy explain`). */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = []
  emit(event: AuditEvent): void {
    this.events.push(event)
  }
}

/** One audit event: a JSON line with `event`, `level`, `request_id` (docs/operations.md "Audit trail"). */
export interface AuditEvent {
  readonly event: string
  readonly level: 'INFO' | 'WARN' | 'ERROR'
  readonly request_id: string
  readonly [field: string]: unknown
}

/** Where audit events go; the default writes them through Powertools Logger. Never given raw tokens. */
export interface AuditSink {
  emit(event: AuditEvent): void
}

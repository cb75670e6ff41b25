import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createLoggerAuditSink } from '../audit/logger-sink.js'
import type { AuditSink } from '../audit/types.js'
import { builtinConfigText } from '../config/builtin.js'
import { loadConfigFile, loadConfigText } from '../config/load.js'
import type { StoreConfig } from '../config/schema.js'
import { type InstanceBinding, listBindings, RESET_GRACE_SECONDS, resetBinding } from '../instance/binding.js'
import { openStateTable } from '../store/open-table.js'
import type { StateTable } from '../store/types.js'

/** What `tessera instance` needs; tests inject a table, clock and output. */
export interface InstanceCliDeps {
  readonly openTable: (store: StoreConfig) => StateTable
  readonly audit: AuditSink
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const USAGE =
  'usage: tessera instance list [--config F] [--json] | tessera instance reset <instance-id> [--config F]'
const INSTANCE_ID = /^i-[0-9a-f]{8,32}$/

/** `tessera instance list|reset`: inspect or reset TOFU instance bindings in the configured store. Returns the exit code. */
export async function runInstance(argv: string[], overrides: Partial<InstanceCliDeps> = {}): Promise<number> {
  const deps: InstanceCliDeps = {
    openTable: (store) => openStateTable(store),
    audit: overrides.audit ?? createLoggerAuditSink(),
    now: Date.now,
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    ...overrides,
  }
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  })
  const [command, id, ...extra] = positionals
  if (
    (command !== 'list' && command !== 'reset') ||
    extra.length > 0 ||
    (command === 'reset') !== (id !== undefined)
  ) {
    deps.err(USAGE)
    return 2
  }
  // Like `serve`: without --config, the built-in example (whose store is in memory).
  const { config } = values.config
    ? await loadConfigFile(values.config)
    : loadConfigText(builtinConfigText('http://127.0.0.1:8787'), 'built-in example')
  if ('memory' in config.store) {
    deps.err(
      `note: ${values.config ? 'this config uses' : 'without --config, the built-in example uses'} the in-memory store; bindings live inside the running \`tessera serve\` process only (pass --config F naming a dynamodb store)`,
    )
  }
  const table = deps.openTable(config.store)
  if (command === 'list') {
    const bindings = await listBindings(table)
    deps.out(values.json ? JSON.stringify(bindings, null, 2) : formatTable(bindings))
    return 0
  }
  if (!INSTANCE_ID.test(id as string)) {
    deps.err(`tessera instance reset: "${String(id).slice(0, 40)}" is not an EC2 instance id (i-…)`)
    return 2
  }
  const nowSeconds = Math.floor(deps.now() / 1000)
  const existed = await resetBinding(table, id as string, nowSeconds)
  deps.audit.emit({
    event: 'instance.reset',
    level: 'WARN',
    request_id: `cli-${randomUUID()}`,
    instance_id: id,
    had_binding: existed,
    actor: 'cli',
  })
  deps.out(
    `${id}: binding ${existed ? 'reset' : 'was absent; reset marker written'}; the next exchange within ${RESET_GRACE_SECONDS / 60} min registers a new nonce`,
  )
  return 0
}

const iso = (seconds: number) =>
  seconds > 0 ? new Date(seconds * 1000).toISOString().replace('.000Z', 'Z') : '-'

/** A plain-text table, one binding per line. */
export function formatTable(bindings: readonly InstanceBinding[]): string {
  if (bindings.length === 0) return 'no instance bindings'
  const header = [
    'INSTANCE',
    'ACCOUNT',
    'REGION',
    'PROVIDER',
    'FIRST_SEEN',
    'LAST_SEEN',
    'PENDING_TIME',
    'EXCHANGES',
    'CLONE_ALERTS',
  ]
  const rows = bindings.map((b) =>
    b.reset
      ? [b.instanceId, '-', '-', '-', '-', '-', '-', '-', '(reset, awaiting registration)']
      : [
          b.instanceId,
          b.accountId,
          b.region,
          b.provider,
          iso(b.firstSeen),
          iso(b.lastSeen),
          iso(b.pendingTime),
          String(b.exchanges),
          String(b.cloneAlerts),
        ],
  )
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

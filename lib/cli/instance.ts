import { randomUUID } from 'node:crypto'
import { createLoggerAuditSink } from '../audit/logger-sink.js'
import type { AuditSink } from '../audit/types.js'
import { builtinConfigText } from '../config/builtin.js'
import { loadConfigFile, loadConfigText } from '../config/load.js'
import type { StoreConfig } from '../config/schema.js'
import { UsageError } from '../errors.js'
import { type InstanceBinding, listBindings, RESET_GRACE_SECONDS, resetBinding } from '../instance/binding.js'
import { openStateTable } from '../store/open-table.js'
import type { StateTable } from '../store/types.js'
import { defineCommand } from './command.js'
import { CONFIG_FLAG, DEFAULT_BROKER_URL } from './common-flags.js'

/** What `tessera instance` needs besides the usual io; tests inject a table and an audit sink. */
export interface InstanceCliDeps {
  readonly openTable: (store: StoreConfig) => StateTable
  readonly audit: AuditSink
}

const INSTANCE_ID = /^i-[0-9a-f]{8,32}$/

/** Like `serve`: without --config, the built-in example (whose store is in memory). */
async function loadStore(file: string | undefined) {
  const { config } = file
    ? await loadConfigFile(file)
    : loadConfigText(builtinConfigText(DEFAULT_BROKER_URL), 'built-in example')
  return config.store
}

function memoryNote(file: string | undefined): string {
  return `${file ? `${file} uses` : 'without --config, the built-in example uses'} the in-memory store: bindings live inside the running tessera serve process only (pass --config F naming a dynamodb store)`
}

/** `tessera instance list|reset`: inspect or reset TOFU instance bindings in the configured store. */
export function instanceCommands(overrides: Partial<InstanceCliDeps> = {}) {
  const deps: InstanceCliDeps = {
    openTable: overrides.openTable ?? ((store) => openStateTable(store)),
    audit: overrides.audit ?? createLoggerAuditSink(),
  }
  const list = defineCommand({
    name: 'instance list',
    summary: 'list EC2 instance bindings (first and last seen, exchanges, clone alerts)',
    synopsis: '[--config F] [--json]',
    flags: { config: CONFIG_FLAG, json: { type: 'boolean', default: false, help: 'print JSON' } },
    examples: [
      'tessera instance list --config tessera.yaml',
      'tessera instance list --config tessera.yaml --json',
    ],
    async run({ values }, io) {
      const store = await loadStore(values.config)
      if ('memory' in store) io.stderr.write(`note: ${memoryNote(values.config)}\n`)
      const bindings = await listBindings(deps.openTable(store))
      io.stdout.write(`${values.json ? JSON.stringify(bindings, null, 2) : formatTable(bindings)}\n`)
      return 0
    },
  })
  const reset = defineCommand({
    name: 'instance reset',
    summary: 'forget the binding of one instance, so its next exchange registers a new nonce',
    synopsis: '<instance-id> [--config F]',
    positionals: ['instance-id'],
    flags: { config: CONFIG_FLAG },
    examples: ['tessera instance reset i-0123456789abcdef0 --config tessera.yaml'],
    async run({ values, positionals }, io) {
      const [id] = positionals
      if (id === undefined) throw new UsageError('the instance id is required')
      if (!INSTANCE_ID.test(id)) throw new UsageError(`${id.slice(0, 40)} is not an EC2 instance id (i-...)`)
      const store = await loadStore(values.config)
      if ('memory' in store) {
        // A reset written to this process's memory would vanish with it: nothing to reset here.
        io.stderr.write(`tessera instance reset: nothing to reset: ${memoryNote(values.config)}\n`)
        return 1
      }
      const nowSeconds = Math.floor(io.now() / 1000)
      const existed = await resetBinding(deps.openTable(store), id, nowSeconds)
      deps.audit.emit({
        event: 'instance.reset',
        level: 'WARN',
        request_id: `cli-${randomUUID()}`,
        instance_id: id,
        had_binding: existed,
        actor: 'cli',
      })
      io.stdout.write(
        `${id}: binding ${existed ? 'reset' : 'was absent; reset marker written'}; the next exchange within ${RESET_GRACE_SECONDS / 60} min registers a new nonce\n`,
      )
      return 0
    },
  })
  return [list, reset] as const
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

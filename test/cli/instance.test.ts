import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { loaded, runCli } from '../../lib/cli/command.js'
import { instanceCommands } from '../../lib/cli/instance.js'
import { bindInstance, listBindings } from '../../lib/instance/binding.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { testIo } from './run-command.js'

const NOW = Date.parse('2026-03-01T12:00:00Z')
let configFile: string

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-instance-cli-'))
  configFile = join(dir, 'tessera.yaml')
  await writeFile(
    configFile,
    `issuer: https://sts.example.com
store: { dynamodb: { table: tessera-state } }
providers:
  - name: ec2-fleet
    kind: aws-ec2
    accounts: ["111122223333"]
`,
  )
})

async function run(argv: string[], table = new MemoryTable(() => Math.floor(NOW / 1000))) {
  const audit = new MemoryAuditSink()
  const { io, out } = testIo({ now: () => NOW })
  const code = await runCli(
    instanceCommands({ openTable: () => table, audit }).map(loaded),
    ['instance', ...argv],
    io,
  )
  const { stdout, stderr } = out()
  return { code, out: stdout.trimEnd(), err: stderr.trimEnd(), audit, table }
}

async function seeded() {
  const table = new MemoryTable(() => Math.floor(NOW / 1000))
  await bindInstance(table, new MemoryAuditSink(), {
    provider: 'ec2-fleet',
    instanceId: 'i-0123456789abcdef0',
    accountId: '111122223333',
    region: 'us-east-1',
    pendingTime: NOW / 1000 - 60,
    nonce: randomBytes(32).toString('base64url'),
    now: NOW / 1000,
    requestId: 'r',
    registrationWindow: 900,
    lifetime: 86_400,
  })
  return table
}

describe('tessera instance', () => {
  it('lists bindings with account, times, exchanges and clone alerts', async () => {
    const r = await run(['list', '--config', configFile], await seeded())
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/INSTANCE\s+ACCOUNT/)
    expect(r.out).toMatch(/i-0123456789abcdef0\s+111122223333\s+us-east-1\s+ec2-fleet\s+2026-03-01T12:00:00Z/)
    const json = await run(['list', '--json', '--config', configFile], await seeded())
    expect(JSON.parse(json.out)[0]).toMatchObject({
      instanceId: 'i-0123456789abcdef0',
      exchanges: 1,
      cloneAlerts: 0,
    })
  })

  it('resets one instance, audited', async () => {
    const table = await seeded()
    const r = await run(['reset', 'i-0123456789abcdef0', '--config', configFile], table)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/binding reset/)
    expect(r.audit.events).toEqual([
      expect.objectContaining({ event: 'instance.reset', instance_id: 'i-0123456789abcdef0' }),
    ])
    expect((await listBindings(table))[0]?.reset).toBe(true)
  })

  it('without --config works on the built-in example like serve, and says its store is in memory', async () => {
    const r = await run(['list'])
    expect(r.code).toBe(0)
    expect(r.err).toMatch(/without --config, the built-in example uses the in-memory store/)
    expect(r.out).toBe('no instance bindings')
  })

  it('refuses bad usage: no command, unknown command, missing id, bad id', async () => {
    expect((await run([])).code).toBe(2)
    expect((await run(['purge', '--config', configFile])).code).toBe(2)
    expect((await run(['reset', '--config', configFile])).code).toBe(2)
    const bad = await run(['reset', 'not-an-id', '--config', configFile])
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/not an EC2 instance id/)
    const unknown = await run(['list', '--bogus', '--config', configFile])
    expect(unknown.code).toBe(2)
    expect(unknown.err).toMatch(
      /^tessera instance list: Unknown option --bogus\nusage: tessera instance list /,
    )
  })

  it('reset on the in-memory store says there is nothing to reset and exits 1, writing nothing', async () => {
    const table = new MemoryTable(() => Math.floor(NOW / 1000))
    const r = await run(['reset', 'i-0123456789abcdef0'], table)
    expect(r.code).toBe(1)
    expect(r.out).toBe('')
    expect(r.err).toMatch(
      /^tessera instance reset: nothing to reset: without --config, the built-in example uses the in-memory store/,
    )
    expect(r.audit.events).toEqual([])
    expect(await listBindings(table)).toEqual([])
  })

  it('prints usage and examples for --help and -h, exit 0, for both subcommands and the group', async () => {
    for (const argv of [['list', '--help'], ['reset', '-h'], ['--help'], ['help']]) {
      const r = await run(argv)
      expect(r.code).toBe(0)
      expect(r.err).toBe('')
      expect(r.out).toMatch(/^usage: tessera instance /)
    }
  })

  it('says so when there are no bindings', async () => {
    expect((await run(['list', '--config', configFile])).out).toBe('no instance bindings')
  })
})

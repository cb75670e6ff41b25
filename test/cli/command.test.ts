import { describe, expect, it } from 'vitest'
import { defineCommand, helpText } from '../../lib/cli/command.js'
import { tesseraCommands } from '../../lib/cli/commands.js'
import { ConfigError, ExchangeFailed, UsageError } from '../../lib/errors.js'
import { runLine, runSpec } from './run-command.js'

const COMMANDS = tesseraCommands({ loadRoutes: async () => () => [] })

/** A command whose run does what the test says, to exercise the framework alone. */
const probe = (behaviour: () => Promise<number>) =>
  defineCommand({
    name: 'probe',
    summary: 'a test command',
    synopsis: '[--name N] [--on]',
    positionals: ['X'],
    flags: {
      name: { type: 'string', value: 'N', default: 'x', help: 'a name' },
      on: { type: 'boolean', default: false, help: 'a switch' },
    },
    examples: ['tessera probe --name y'],
    run: behaviour,
  })

describe('every command', () => {
  const names = COMMANDS.map((c) => c.name)

  it('each entry loads the spec of its own name', async () => {
    for (const entry of COMMANDS) expect((await entry.load()).name).toBe(entry.name)
  })

  it('is listed once, including config show', () => {
    expect(new Set(names).size).toBe(names.length)
    expect(names).toEqual(
      expect.arrayContaining(['serve', 'dev-token', 'exchange', 'policy lint', 'policy explain']),
    )
    expect(names).toEqual(
      expect.arrayContaining(['instance list', 'instance reset', 'revoke', 'config show']),
    )
  })

  for (const name of names) {
    for (const flag of ['--help', '-h']) {
      it(`${name} ${flag}: usage, options and examples on stdout, exit 0`, async () => {
        const r = await runLine(COMMANDS, [...name.split(' '), flag])
        expect(r.code).toBe(0)
        expect(r.stderr).toBe('')
        expect(r.stdout.startsWith(`usage: tessera ${name} `)).toBe(true)
        expect(r.stdout).toMatch(/\noptions:\n[\s\S]*-h, --help +show this help\n/)
        expect(r.stdout).toMatch(/\nexamples:\n {2}(tessera|[^\n]*\| tessera) /)
      })
    }

    it(`${name}: an unknown flag is a usage error (exit 2) naming the command`, async () => {
      const r = await runLine(COMMANDS, [...name.split(' '), '--no-such-flag'])
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(
        new RegExp(`^tessera ${name}: Unknown option --no-such-flag\\nusage: tessera ${name} `),
      )
    })
  }
})

describe('runCli dispatch', () => {
  it('prints the command list for help, --help and -h (exit 0)', async () => {
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const r = await runLine(COMMANDS, argv)
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/^usage: tessera <command> \[options\]\n\ncommands:\n/)
      expect(r.stdout).toContain('  config show ')
    }
  })

  it('refuses no command, an unknown command and a group without its subcommand (exit 2)', async () => {
    for (const argv of [[], ['frobnicate'], ['policy'], ['policy', 'frobnicate'], ['config']]) {
      const r = await runLine(COMMANDS, argv)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(/usage: tessera (policy |config )?<command>/)
    }
    expect((await runLine(COMMANDS, ['frobnicate'])).stderr).toMatch(/^tessera: unknown command frobnicate\n/)
  })
})

describe('runCommand exit codes and messages', () => {
  it('0 when run says so; help text lists defaults and repeatable flags', async () => {
    expect(
      (
        await runSpec(
          probe(async () => 0),
          ['--name', 'z'],
        )
      ).code,
    ).toBe(0)
    expect(helpText(probe(async () => 0))).toContain('--name N  a name (default x)')
  })

  it('2 for a usage error, a missing value and an extra positional; usage on stderr', async () => {
    const usage = await runSpec(
      probe(async () => {
        throw new UsageError('give --on')
      }),
      [],
    )
    expect(usage).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'tessera probe: give --on\nusage: tessera probe [--name N] [--on]\n(tessera probe --help shows the options and examples)\n',
    })
    expect(
      (
        await runSpec(
          probe(async () => 0),
          ['--name'],
        )
      ).code,
    ).toBe(2)
    const extra = await runSpec(
      probe(async () => 0),
      ['a', 'b'],
    )
    expect(extra.code).toBe(2)
    expect(extra.stderr).toMatch(/^tessera probe: unexpected argument b\n/)
  })

  it('1 for a failure: broker errors as <error>: <description>, config errors as they are, others prefixed', async () => {
    const fail = (e: unknown) =>
      runSpec(
        probe(async () => {
          throw e
        }),
        [],
      )
    expect(await fail(new ExchangeFailed('invalid_target', 'no policy grants it', 400))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'invalid_target: no policy grants it\n',
    })
    expect((await fail(new ConfigError('t.yaml', ['t.yaml:3:1: bad']))).stderr).toBe(
      't.yaml: invalid configuration\n  - t.yaml:3:1: bad\n',
    )
    expect(await fail(new Error('disk full'))).toMatchObject({
      code: 1,
      stderr: 'tessera probe: disk full\n',
    })
  })

  it('--help after -- is an argument, not a request for help', async () => {
    const r = await runSpec(
      probe(async () => 0),
      ['--', '--help'],
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
  })
})

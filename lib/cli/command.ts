/**
 * The one shape of a `tessera` command: a declarative spec (flags with help, synopsis, examples)
 * and a run function. `runCli` gives every command the same `--help`/`-h`, the same usage
 * errors and the same exit codes: 0 done, 1 refused or failed, 2 usage error.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { ConfigError, ExchangeFailed, UsageError } from '../errors.js'

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** Streams and dependencies of a command (tests inject these). */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean }
  readonly stderr: { write(text: string): unknown }
  readonly stdin: NodeJS.ReadableStream
  readonly fetch: typeof globalThis.fetch
  /** Epoch ms. */
  readonly now: () => number
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The process's own streams, fetch, clock and environment. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    fetch: (...args) => globalThis.fetch(...args),
    now: Date.now,
    env: process.env,
  }
}

/** One flag: what `parseArgs` needs plus its help line. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly multiple?: boolean
  readonly default?: string | boolean | string[]
  /** The value's placeholder in help (`URL`, `F`); strings only. */
  readonly value?: string
  readonly help: string
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>

type Parsed<F extends FlagSpecs> = ReturnType<
  typeof parseArgs<{ options: F; strict: true; allowPositionals: true; args: string[] }>
>

/** What a command's run function receives. */
export interface CommandArgs<F extends FlagSpecs> {
  readonly values: Parsed<F>['values']
  readonly positionals: readonly string[]
}

/** A command: `tessera <name> <synopsis>`; `name` may have two words (`policy lint`). */
export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  readonly name: string
  readonly summary: string
  /** Arguments after the name, as shown in usage lines. */
  readonly synopsis: string
  /** Names of the positional arguments accepted, in order (none when absent). */
  readonly positionals?: readonly string[]
  readonly flags: F
  readonly examples: readonly string[]
  /** Extra paragraphs for `--help` (defaults, exit codes beyond the usual). */
  readonly notes?: string
  run(args: CommandArgs<F>, io: CliIo): Promise<number>
}

/** Declares a command; only here so TypeScript infers the flag value types. */
export function defineCommand<const F extends FlagSpecs>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec
}

/** The flags every command knows. */
const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', help: 'show this help' }

function flagLine(name: string, flag: FlagSpec): [string, string] {
  const short = flag.short ? `-${flag.short}, ` : '    '
  const value = flag.type === 'string' ? ` ${flag.value ?? 'V'}` : ''
  const repeat = flag.multiple ? ' (repeatable)' : ''
  const dflt =
    flag.default !== undefined && flag.type === 'string' && !flag.multiple ? ` (default ${flag.default})` : ''
  return [`${short}--${name}${value}`, `${flag.help}${repeat}${dflt}`]
}

/** The `--help` text: usage, summary, flags, examples. */
export function helpText(spec: CommandSpec): string {
  const rows = [...Object.entries(spec.flags), ['help', HELP_FLAG] as const].map(([n, f]) => flagLine(n, f))
  const width = Math.max(...rows.map(([l]) => l.length))
  return [
    `usage: tessera ${spec.name} ${spec.synopsis}`.trimEnd(),
    '',
    spec.summary,
    '',
    'options:',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    ...(spec.notes ? ['', spec.notes] : []),
    '',
    'examples:',
    ...spec.examples.map((e) => `  ${e}`),
    '',
  ].join('\n')
}

/** `--help` or `-h` before a `--` terminator. */
function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
  }
  return false
}

function parse<F extends FlagSpecs>(spec: CommandSpec<F>, argv: readonly string[]): CommandArgs<F> {
  const options: ParseArgsConfig['options'] = {}
  for (const [name, { help: _help, value: _value, ...opt }] of Object.entries(spec.flags)) options[name] = opt
  const { values, positionals } = parseArgs({
    args: [...argv],
    options,
    strict: true,
    allowPositionals: true,
  })
  const allowed = spec.positionals ?? []
  if (positionals.length > allowed.length) {
    const extra = positionals[allowed.length] ?? ''
    throw new UsageError(`unexpected argument ${extra.slice(0, 80)}`)
  }
  return { values: values as Parsed<F>['values'], positionals }
}

/** Node's parser reports unknown or malformed flags with an ERR_PARSE_ARGS_* code. */
function isParseError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
}

/** Node's parser quotes names with `'`, sometimes unbalanced; plain words read better. */
function parseErrorText(error: Error): string {
  return error.message.replace(/'/g, '').replace(/\. To specify a positional argument.*$/s, '')
}

/** What a failure prints: the broker's `<error>: <description>`, a config's problems, or one line. */
export function failureText(name: string, error: unknown): string {
  if (error instanceof ExchangeFailed) return `${error.error}: ${error.description}`
  if (error instanceof ConfigError) return error.message
  return `tessera ${name}: ${error instanceof Error ? error.message : String(error)}`
}

/** Runs one command with argv after its name; resolves with the exit code, never rejects. */
export async function runCommand(spec: CommandSpec, argv: readonly string[], io: CliIo): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout.write(helpText(spec))
    return EXIT.ok
  }
  let args: CommandArgs<FlagSpecs>
  try {
    args = parse(spec, argv)
  } catch (error) {
    return usageError(spec, error, io)
  }
  try {
    return await spec.run(args, io)
  } catch (error) {
    if (error instanceof UsageError) return usageError(spec, error, io)
    io.stderr.write(`${failureText(spec.name, error)}\n`)
    return EXIT.failed
  }
}

function usageError(spec: CommandSpec, error: unknown, io: CliIo): number {
  if (!(error instanceof UsageError) && !isParseError(error)) throw error
  const text = error instanceof UsageError ? error.message : parseErrorText(error)
  io.stderr.write(
    `tessera ${spec.name}: ${text}\nusage: tessera ${spec.name} ${spec.synopsis}\n` +
      `(tessera ${spec.name} --help shows the options and examples)\n`,
  )
  return EXIT.usage
}

/** A command as the dispatcher knows it: its name, and its module loaded only when it runs. */
export interface CommandEntry {
  readonly name: string
  load(): Promise<CommandSpec>
}

/** An entry for a spec already in memory (tests, small commands). */
export function loaded(spec: CommandSpec): CommandEntry {
  return { name: spec.name, load: async () => spec }
}

async function overview(commands: readonly CommandEntry[], prefix = ''): Promise<string> {
  const shown = await Promise.all(commands.filter((c) => c.name.startsWith(prefix)).map((c) => c.load()))
  const width = Math.max(...shown.map((c) => c.name.length))
  return [
    `usage: tessera ${prefix}<command> [options]`,
    '',
    'commands:',
    ...shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `tessera ${prefix}<command> --help shows the options and examples of one command.`,
    '',
  ].join('\n')
}

/**
 * Dispatches `argv` to the command whose one- or two-word name it starts with. Only that
 * command's module is loaded, so `tessera dev-token` does not pay for the broker's.
 */
export async function runCli(
  commands: readonly CommandEntry[],
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  const [first, second, ...rest] = argv
  const two = commands.find((c) => c.name === `${first} ${second}`)
  if (two) return runCommand(await two.load(), rest, io)
  const one = commands.find((c) => c.name === first)
  if (one) return runCommand(await one.load(), argv.slice(1), io)
  const group = commands.some((c) => c.name.startsWith(`${first} `)) ? `${first} ` : ''
  const helpWord = group ? second : first
  if (
    argv.length === (group ? 2 : 1) &&
    (helpWord === 'help' || helpWord === '--help' || helpWord === '-h')
  ) {
    io.stdout.write(await overview(commands, group))
    return EXIT.ok
  }
  if (first === undefined || (group && second === undefined)) {
    io.stderr.write(await overview(commands, group))
    return EXIT.usage
  }
  const unknown = group ? `${first} ${second}` : first
  io.stderr.write(`tessera: unknown command ${unknown.slice(0, 80)}\n${await overview(commands, group)}`)
  return EXIT.usage
}

import { Readable } from 'node:stream'
import {
  type CliIo,
  type CommandEntry,
  type CommandSpec,
  loaded,
  runCli,
  runCommand,
} from '../../lib/cli/command.js'

export interface Captured {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** In-process io: captured output, optional stdin, no network unless `fetch` is given. */
export function testIo(opts: Partial<Omit<CliIo, 'stdin'>> & { stdin?: string; tty?: boolean } = {}): {
  io: CliIo
  out: () => { stdout: string; stderr: string }
} {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t), isTTY: opts.tty ?? false },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([opts.stdin ?? '']),
    fetch: opts.fetch ?? (() => Promise.reject(new Error('no network in this test'))),
    now: opts.now ?? Date.now,
    env: opts.env ?? {},
  }
  return { io, out: () => ({ stdout, stderr }) }
}

/** Runs one command (argv after its name) with `testIo`. */
export async function runSpec(
  spec: CommandSpec,
  argv: readonly string[],
  opts: Parameters<typeof testIo>[0] = {},
): Promise<Captured> {
  const { io, out } = testIo(opts)
  const code = await runCommand(spec, argv, io)
  return { code, ...out() }
}

/** Runs a whole command line against a command list (entries or specs) with `testIo`. */
export async function runLine(
  commands: readonly (CommandEntry | CommandSpec)[],
  argv: readonly string[],
  opts: Parameters<typeof testIo>[0] = {},
): Promise<Captured> {
  const { io, out } = testIo(opts)
  const entries = commands.map((c) => ('run' in c ? loaded(c) : c))
  const code = await runCli(entries, argv, io)
  return { code, ...out() }
}

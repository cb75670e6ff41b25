import { randomUUID } from 'node:crypto'

/**
 * GitHub Actions workflow commands (stdout lines) and file commands (GITHUB_ENV, GITHUB_OUTPUT),
 * written by hand so the action bundle needs no dependency.
 */

/** Escapes a command's data so no value can end the line and start a command of its own. */
export function escapeData(value: string): string {
  return value.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
}

/** `::add-mask::` line: the runner replaces the value with *** in every later log line. */
export function maskCommand(secret: string): string {
  return `::add-mask::${escapeData(secret)}\n`
}

/** `::error::` line: shown as an annotation on the run. */
export function errorCommand(message: string): string {
  return `::error::${escapeData(message)}\n`
}

/** One `name<<delimiter` entry of a file command; the random delimiter makes multi-line values safe. */
export function fileCommandEntry(
  name: string,
  value: string,
  delimiter = `ghadelimiter_${randomUUID()}`,
): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid name for a file command: ${name}`)
  if (value.includes(delimiter)) throw new Error(`the value of ${name} contains the delimiter`)
  return `${name}<<${delimiter}\n${value}\n${delimiter}\n`
}

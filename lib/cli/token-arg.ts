import { createReadStream } from 'node:fs'
import { UsageError } from '../errors.js'
import { readCapped } from '../http/read-capped.js'
import { decodeUtf8 } from '../text/decode-utf8.js'

const MAX_TOKEN_BYTES = 1024 * 1024

/** Reads a token given as `T`, `@file` or `-` (stdin); surrounding whitespace is trimmed. */
export async function readTokenArg(
  value: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<string> {
  let text = value
  if (value === '-') text = await readStream(stdin, 'the token on stdin')
  // Streamed with the same cap: `@/dev/zero` or a huge file must not exhaust memory.
  else if (value.startsWith('@')) text = await readFile(value.slice(1))
  const token = text.trim()
  if (!token) throw new UsageError('the token is empty')
  return token
}

async function readStream(stream: NodeJS.ReadableStream, what: string): Promise<string> {
  const bytes = await readCapped(stream as AsyncIterable<Uint8Array | string>, MAX_TOKEN_BYTES)
  if (bytes === undefined) throw new UsageError(`${what} is larger than 1 MiB`)
  const text = decodeUtf8(bytes)
  if (text === undefined) throw new UsageError(`${what} is not UTF-8 text`)
  return text
}

/** A token file; a path that cannot be read is a mistake in the command line (exit 2). */
async function readFile(path: string): Promise<string> {
  try {
    return await readStream(createReadStream(path), path)
  } catch (error) {
    if (error instanceof UsageError) throw error
    const code = (error as { code?: unknown }).code
    throw new UsageError(`cannot read ${path}: ${typeof code === 'string' ? code : (error as Error).message}`)
  }
}

import { createReadStream } from 'node:fs'

const MAX_TOKEN_BYTES = 1024 * 1024

/** Reads a token given as `T`, `@file` or `-` (stdin); surrounding whitespace is trimmed. */
export async function readTokenArg(
  value: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<string> {
  let text = value
  if (value === '-') text = await readStream(stdin, 'the token on stdin')
  // Streamed with the same cap: `@/dev/zero` or a huge file must not exhaust memory.
  else if (value.startsWith('@')) text = await readStream(createReadStream(value.slice(1)), value.slice(1))
  const token = text.trim()
  if (!token) throw new Error('the token is empty')
  return token
}

async function readStream(stream: NodeJS.ReadableStream, what: string): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buf.length
    if (size > MAX_TOKEN_BYTES) {
      if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy()
      throw new Error(`${what} is larger than 1 MiB`)
    }
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

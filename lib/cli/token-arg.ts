import { readFile } from 'node:fs/promises'

/** Reads a token given as `T`, `@file` or `-` (stdin); surrounding whitespace is trimmed. */
export async function readTokenArg(
  value: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<string> {
  let text = value
  if (value === '-') text = await readStream(stdin)
  else if (value.startsWith('@')) text = await readFile(value.slice(1), 'utf8')
  const token = text.trim()
  if (!token) throw new Error('the token is empty')
  return token
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buf.length
    if (size > 1024 * 1024) throw new Error('the token on stdin is larger than 1 MiB')
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

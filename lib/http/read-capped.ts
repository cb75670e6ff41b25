/**
 * Reads a byte stream (a fetch body, an IncomingMessage, a file or stdin) up to `maxBytes`. Past
 * the cap it stops reading at once, which cancels or destroys the source, so the rest is never
 * downloaded or buffered, and returns undefined. Stream failures are thrown as they are.
 */
export async function readCapped(
  source: AsyncIterable<Uint8Array | string>,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    total += bytes.byteLength
    if (total > maxBytes) return undefined
    chunks.push(bytes)
  }
  return Buffer.concat(chunks, total)
}

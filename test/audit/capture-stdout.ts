/**
 * Runs `work` while capturing process.stdout and process.stderr, in write order (Powertools writes
 * INFO lines and EMF to stdout, WARN/ERROR lines to stderr).
 */
export async function captureStdout(work: () => void | Promise<void>): Promise<string[]> {
  const chunks: string[] = []
  const streams = [process.stdout, process.stderr] as const
  const originals = streams.map((s) => s.write)
  for (const s of streams) {
    s.write = ((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
      return true
    }) as typeof s.write
  }
  try {
    await work()
  } finally {
    streams.forEach((s, i) => {
      s.write = originals[i]!
    })
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '')
}

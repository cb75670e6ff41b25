// Preloaded into a server child (`--import`): answers the parent's 'memory' message with
// process.memoryUsage() after a full GC, over the IPC channel. Changes nothing else.
const gc = (globalThis as { gc?: () => void }).gc

process.on('message', (message: unknown) => {
  if (message !== 'memory' || !process.send) return
  gc?.()
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage()
  process.send({ type: 'memory', rss, heapUsed, heapTotal, external })
})

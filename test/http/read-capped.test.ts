import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readCapped } from '../../lib/http/read-capped.js'

describe('readCapped', () => {
  it('reads a stream up to the cap, strings and bytes alike', async () => {
    const bytes = await readCapped(Readable.from([Buffer.from('ab'), 'cd']), 4)
    expect(Buffer.from(bytes ?? []).toString()).toBe('abcd')
  })

  it('past the cap answers undefined and stops the source', async () => {
    let pulled = 0
    const source = new Readable({
      read() {
        pulled++
        this.push(Buffer.alloc(1024))
      },
    })
    expect(await readCapped(source, 4096)).toBeUndefined()
    expect(source.destroyed).toBe(true)
    expect(pulled).toBeLessThan(10)
  })

  it('an empty stream is empty, a failing one throws its error', async () => {
    expect((await readCapped(Readable.from([]), 0))?.byteLength).toBe(0)
    const failing = new Readable({
      read() {
        this.destroy(new Error('reset'))
      },
    })
    await expect(readCapped(failing, 10)).rejects.toThrow('reset')
  })

  it('a web stream (a fetch body) is cancelled past the cap', async () => {
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(1024))
      },
      cancel() {
        cancelled = true
      },
    })
    expect(await readCapped(body as unknown as AsyncIterable<Uint8Array>, 2048)).toBeUndefined()
    expect(cancelled).toBe(true)
  })
})

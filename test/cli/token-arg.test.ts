import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { readTokenArg } from '../../lib/cli/token-arg.js'

const dir = mkdtempSync(join(tmpdir(), 'tessera-token-arg-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('readTokenArg', () => {
  it('takes the token itself, @file or - (stdin), trimmed', async () => {
    writeFileSync(join(dir, 't'), '  abc.def.ghi\n')
    expect(await readTokenArg('abc')).toBe('abc')
    expect(await readTokenArg(`@${join(dir, 't')}`)).toBe('abc.def.ghi')
    expect(await readTokenArg('-', Readable.from(['x.y', '.z\n']))).toBe('x.y.z')
  })

  it('refuses an empty token from any source', async () => {
    writeFileSync(join(dir, 'empty'), '\n\n')
    await expect(readTokenArg('   ')).rejects.toThrow(/empty/)
    await expect(readTokenArg(`@${join(dir, 'empty')}`)).rejects.toThrow(/empty/)
    await expect(readTokenArg('-', Readable.from([]))).rejects.toThrow(/empty/)
  })

  it('caps stdin at 1 MiB', async () => {
    const big = Readable.from([Buffer.alloc(600_000, 0x61), Buffer.alloc(600_000, 0x61)])
    await expect(readTokenArg('-', big)).rejects.toThrow(/stdin is larger than 1 MiB/)
  })

  it('caps @file at 1 MiB too (an endless @/dev/zero cannot exhaust memory)', async () => {
    writeFileSync(join(dir, 'big'), Buffer.alloc(1024 * 1024 + 1, 0x61))
    await expect(readTokenArg(`@${join(dir, 'big')}`)).rejects.toThrow(/larger than 1 MiB/)
    await expect(readTokenArg('@/dev/zero')).rejects.toThrow(/larger than 1 MiB/)
  })

  it('a missing @file is an error naming it', async () => {
    await expect(readTokenArg(`@${join(dir, 'nope')}`)).rejects.toThrow(/nope/)
  })
})

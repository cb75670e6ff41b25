import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateNonce } from '../../lib/client/instance-nonce.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-nonce-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadOrCreateNonce', () => {
  it('refuses a nonce file readable by others, or one with garbage', async () => {
    const open = join(dir, 'world-readable')
    await writeFile(open, `${'a'.repeat(43)}\n`, { mode: 0o644 })
    await expect(loadOrCreateNonce(open)).rejects.toThrow(/chmod 600/)
    const garbage = join(dir, 'garbage')
    await writeFile(garbage, 'hello\n', { mode: 0o600 })
    await expect(loadOrCreateNonce(garbage)).rejects.toThrow(/valid instance nonce/)
  })

  it('refuses a nonce file reached through a symlink, even one pointing at a 0600 file', async () => {
    const target = join(dir, 'real-nonce')
    await writeFile(target, `${'b'.repeat(43)}\n`, { mode: 0o600 })
    const link = join(dir, 'linked-nonce')
    await symlink(target, link)
    await expect(loadOrCreateNonce(link)).rejects.toThrow(/symbolic link/)
  })

  it('refuses a nonce file in a directory others can write (they could swap the file)', async () => {
    const shared = join(dir, 'shared')
    await mkdir(shared, { mode: 0o700 })
    await chmod(shared, 0o777)
    const file = join(shared, 'nonce')
    await writeFile(file, `${'c'.repeat(43)}\n`, { mode: 0o600 })
    await expect(loadOrCreateNonce(file)).rejects.toThrow(/writable by other users/)
  })

  it('refuses a directory where the nonce file should be', async () => {
    const notFile = join(dir, 'a-directory')
    await mkdir(notFile, { mode: 0o700 })
    await expect(loadOrCreateNonce(notFile)).rejects.toThrow(/not a regular file|EISDIR/)
  })

  it('creates 32 random bytes, base64url, once', async () => {
    const file = join(dir, 'fresh')
    const [a, b] = await Promise.all([loadOrCreateNonce(file), loadOrCreateNonce(file)])
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(a, 'base64url')).toHaveLength(32)
    expect(b).toBe(a)
  })
})

import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { createKeyRing } from '../../lib/keys/keyring.js'
import { createLocalSigner, generatePrivateJwk, loadOrCreateKeyFile } from '../../lib/keys/local-signer.js'

const tmp = () => mkdtemp(join(tmpdir(), 'tessera-keys-'))

describe('local signer', () => {
  it.each(['ES256', 'RS256', 'PS256'] as const)(
    '%s signatures verify with jose; kid is the RFC 7638 thumbprint',
    async (alg) => {
      const signer = await createLocalSigner(await generatePrivateJwk(alg), alg)
      const { d, ...pub } = signer.publicJwk as Record<string, unknown>
      expect(d).toBeUndefined()
      expect(signer.kid).toBe(await calculateJwkThumbprint(signer.publicJwk))
      const input = `${Buffer.from(JSON.stringify({ alg, kid: signer.kid })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}`
      const sig = Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')
      const key = await importJWK(pub as never, alg)
      await expect(compactVerify(`${input}.${sig}`, key, { algorithms: [alg] })).resolves.toBeTruthy()
      if (alg === 'ES256') expect(Buffer.from(sig, 'base64url')).toHaveLength(64)
    },
  )

  it('creates the key file with mode 0600 and its missing parent folder, then reuses it', async () => {
    const path = join(await tmp(), 'nested', 'dir', 'key.json')
    const first = await loadOrCreateKeyFile(path, 'ES256')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      d: expect.any(String),
      kid: first.kid,
      alg: 'ES256',
    })
    expect((await loadOrCreateKeyFile(path, 'ES256')).kid).toBe(first.kid)
  })

  it('concurrent first starts agree on one key', async () => {
    const path = join(await tmp(), 'key.json')
    const keys = await Promise.all(Array.from({ length: 10 }, () => loadOrCreateKeyFile(path, 'ES256')))
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1)
  })

  it('refuses a key file readable by others', async () => {
    const path = join(await tmp(), 'key.json')
    await loadOrCreateKeyFile(path, 'ES256')
    await chmod(path, 0o644)
    await expect(loadOrCreateKeyFile(path, 'ES256')).rejects.toThrow(/chmod 600/)
  })

  it.each([
    ['not JSON', 'nope'],
    ['a public key only', JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' })],
    ['a symmetric key', JSON.stringify({ kty: 'oct', k: 'abc' })],
  ])('refuses a key file that is %s', async (_, text) => {
    const path = join(await tmp(), 'key.json')
    await writeFile(path, text, { mode: 0o600 })
    await expect(loadOrCreateKeyFile(path, 'ES256')).rejects.toThrow(path)
  })

  it('refuses a key that does not fit the algorithm', async () => {
    await expect(createLocalSigner(await generatePrivateJwk('ES256'), 'RS256')).rejects.toThrow()
    const rsa = await generatePrivateJwk('RS256')
    await expect(createLocalSigner({ ...rsa, alg: undefined } as never, 'ES256')).rejects.toThrow(/P-256/)
  })

  it('a key ring publishes every key, active first, and signs only with the active one', async () => {
    const dir = await tmp()
    const ring = await createKeyRing({
      algorithm: 'ES256',
      keys: [
        { local: join(dir, 'old.json'), active: false },
        { local: join(dir, 'new.json'), active: true },
      ],
    })
    expect(ring.publicKeys).toHaveLength(2)
    expect(ring.publicKeys[0]?.kid).toBe(ring.active.kid)
    const newKey = JSON.parse(await readFile(join(dir, 'new.json'), 'utf8'))
    expect(ring.active.kid).toBe(newKey.kid)
  })
})

import { createPublicKey, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createAppJwtSource } from '../../lib/github/app-jwt.js'
import type { Signer } from '../../lib/keys/signer.js'
import { appKey, clock, countingSigner } from './github-fixture.js'

const decode = (jwt: string) => {
  const [h, p] = jwt.split('.') as [string, string]
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, number | string>,
  }
}

describe('app JWT', () => {
  it('is RS256 {iss, iat: now - 60, exp: now + 540}, signed by the App key', async () => {
    const time = clock()
    const { signer } = await countingSigner()
    const jwt = await createAppJwtSource({ iss: '123456', signer: async () => signer, now: time.now }).get()
    const { header, payload } = decode(jwt)
    const t = time.now() / 1000
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' })
    expect(payload).toEqual({ iss: 123456, iat: t - 60, exp: t + 540 })
    const [h, p, s] = jwt.split('.') as [string, string, string]
    const pub = createPublicKey(appKey.publicKey.export({ format: 'pem', type: 'spki' }))
    expect(verify('sha256', Buffer.from(`${h}.${p}`), pub, Buffer.from(s, 'base64url'))).toBe(true)
  })

  it('a client ID stays a string iss', async () => {
    const { signer } = await countingSigner()
    const jwt = await createAppJwtSource({
      iss: 'Iv23liABC',
      signer: async () => signer,
      now: Date.now,
    }).get()
    expect(decode(jwt).payload.iss).toBe('Iv23liABC')
  })

  it('concurrent callers share one signature; invalidate forces a new one', async () => {
    const { signer, signs } = await countingSigner()
    const source = createAppJwtSource({ iss: '1', signer: async () => signer, now: Date.now })
    const all = await Promise.all(Array.from({ length: 20 }, () => source.get()))
    expect(new Set(all).size).toBe(1)
    expect(signs()).toBe(1)
    source.invalidate()
    await source.get()
    expect(signs()).toBe(2)
  })

  it('a failed signature is not cached: the next call signs again', async () => {
    const { signer } = await countingSigner()
    let fail = true
    const flaky: Signer = {
      ...signer,
      sign: (input) => (fail ? Promise.reject(new Error('KMS down')) : signer.sign(input)),
    }
    const source = createAppJwtSource({ iss: '1', signer: async () => flaky, now: Date.now })
    await expect(source.get()).rejects.toThrow(/KMS down/)
    fail = false
    await expect(source.get()).resolves.toMatch(/^eyJ/)
  })

  it('refuses a signer that is not RS256 (GitHub accepts nothing else)', async () => {
    const { signer } = await countingSigner()
    const es: Signer = { ...signer, alg: 'ES256' }
    await expect(
      createAppJwtSource({ iss: '1', signer: async () => es, now: Date.now }).get(),
    ).rejects.toThrow(/RS256/)
  })
})

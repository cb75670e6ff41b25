import { describe, expect, it } from 'vitest'
import { bindTokenProof, checkTokenProof } from '../../lib/dpop/token-proof.js'
import { InvalidDpopProof, StoreUnavailable } from '../../lib/errors.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import type { StateTable } from '../../lib/store/types.js'
import { makeProof, NOW, proofKey, TOKEN_URL, thumbprint } from './proof-fixture.js'

const key = proofKey('ES256')
const request = (dpop?: string, method = 'POST'): HttpRequest => ({
  method,
  path: '/token',
  headers: dpop === undefined ? {} : { dpop },
  body: '',
  query: '',
  sourceIp: '127.0.0.1',
  requestId: 'r1',
})
const table = () => new MemoryTable(() => Math.floor(NOW / 1000))

async function invalid(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(InvalidDpopProof)
  return (err as Error).message
}

describe('checkTokenProof', () => {
  it('is undefined without a DPoP header', async () => {
    await expect(checkTokenProof(request(), TOKEN_URL, NOW)).resolves.toBeUndefined()
  })

  it('validates the proof against the token endpoint and the request method', async () => {
    const proof = await checkTokenProof(request(makeProof(key)), TOKEN_URL, NOW)
    expect(proof?.jkt).toBe(await thumbprint(key))
  })

  it('refuses an empty header, a proof for another endpoint, and two proofs in one header', async () => {
    await invalid(checkTokenProof(request(''), TOKEN_URL, NOW))
    await invalid(checkTokenProof(request(makeProof(key)), 'https://sts.example.com/introspect', NOW))
    await invalid(checkTokenProof(request(`${makeProof(key)},${makeProof(key)}`), TOKEN_URL, NOW))
  })
})

describe('bindTokenProof', () => {
  it('binds to the proof key: cnf.jkt and token_type DPoP', async () => {
    const proof = await checkTokenProof(request(makeProof(key)), TOKEN_URL, NOW)
    await expect(bindTokenProof(table(), proof, false)).resolves.toEqual({
      extraClaims: { cnf: { jkt: await thumbprint(key) } },
      tokenType: 'DPoP',
    })
  })

  it('is a Bearer token without a proof where the grant does not require one', async () => {
    await expect(bindTokenProof(table(), undefined, false)).resolves.toEqual({ tokenType: 'Bearer' })
  })

  it('refuses a request without a proof where the grant requires one', async () => {
    expect(await invalid(bindTokenProof(table(), undefined, true))).toMatch(/requires a DPoP proof/)
  })

  it('spends a proof once: the same jti and key again is refused', async () => {
    const t = table()
    const proof = await checkTokenProof(request(makeProof(key, { payload: { jti: 'same' } })), TOKEN_URL, NOW)
    await bindTokenProof(t, proof, true)
    const again = await checkTokenProof(request(makeProof(key, { payload: { jti: 'same' } })), TOKEN_URL, NOW)
    expect(await invalid(bindTokenProof(t, again, true))).toMatch(/already been used/)
  })

  it('keeps the jti until the iat window has closed plus the replay margin', async () => {
    const items: { expiresAt?: number | undefined }[] = []
    const recording: StateTable = Object.assign(Object.create(table()), {
      put: async (item: { expiresAt?: number }) => {
        items.push(item)
        return true
      },
    })
    const proof = await checkTokenProof(request(makeProof(key)), TOKEN_URL, NOW)
    await bindTokenProof(recording, proof, false)
    expect(items[0]?.expiresAt).toBe(Math.floor(NOW / 1000) + 61 + 60)
  })

  it('lets a store outage through as the store raised it (the exchange maps it to 503)', async () => {
    const down: StateTable = Object.assign(Object.create(table()), {
      put: async () => {
        throw new StoreUnavailable('down')
      },
    })
    const proof = await checkTokenProof(request(makeProof(key)), TOKEN_URL, NOW)
    await expect(bindTokenProof(down, proof, false)).rejects.toBeInstanceOf(StoreUnavailable)
  })
})

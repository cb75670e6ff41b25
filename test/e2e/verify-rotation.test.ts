import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { TokenVerificationError } from '../../lib/errors.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { KeyRing, Signer } from '../../lib/keys/signer.js'
import { createTokenVerifier } from '../../verify/index.js'
import { goodClaims, type Harness, startHarness } from './harness.js'

// A broker whose key ring the test rotates as a deployment would: the new key is published next
// to the old one and becomes active; an API's verifier must follow through its JWKS cache.
const API = 'https://api.example.com'
let blue: Signer
let green: Signer
const ring: { active: Signer; publicKeys: KeyRing['publicKeys'] } = {} as never
let h: Harness

beforeAll(async () => {
  blue = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  green = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  ring.active = blue
  ring.publicKeys = [blue.publicJwk]
  h = await startHarness({ brokerOptions: { keys: ring } })
})
afterAll(() => h.close())
afterEach(() => vi.useRealTimers())

async function mintedToken(): Promise<string> {
  const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

describe('verifier against a broker rotating its signing key', () => {
  it('accepts tokens of the new key once its JWKS cooldown has passed, and of the old key while published', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const verifier = createTokenVerifier({ issuer: h.url, audience: API })
    const verify = (token: string) =>
      verifier.verify({ authorization: `Bearer ${token}`, method: 'GET', url: `${API}/` })
    const before = await mintedToken()
    await verify(before)

    ring.publicKeys = [blue.publicJwk, green.publicJwk]
    ring.active = green
    const after = await mintedToken()
    const early = await verify(after).catch((e: unknown) => e)
    expect(early).toBeInstanceOf(TokenVerificationError)
    expect((early as TokenVerificationError).message).toMatch(/unknown key/)

    vi.setSystemTime(Date.now() + 31_000)
    await expect(verify(after)).resolves.toMatchObject({ client_id: 'deploy-app' })
    await expect(verify(before)).resolves.toMatchObject({ client_id: 'deploy-app' })

    // Retired: once the broker stops publishing the old key, its tokens fail after the next refresh.
    ring.publicKeys = [green.publicJwk]
    vi.setSystemTime(Date.now() + 11 * 60_000)
    const retired = await verify(before).catch((e: unknown) => e)
    expect(retired).toBeInstanceOf(TokenVerificationError)
    expect((retired as TokenVerificationError).message).toMatch(/unknown key/)
  })
})

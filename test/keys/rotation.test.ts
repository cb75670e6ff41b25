import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SigningSchema } from '../../lib/config/schema.js'
import { KmsKeyError, TemporarilyUnavailable } from '../../lib/errors.js'
import { createKeyRing } from '../../lib/keys/keyring.js'
import type { KeyRing, Signer } from '../../lib/keys/signer.js'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'

// Rotation as docs/deploy.md describes it: two key slots (blue, green), both published, one active.
let fake: KmsFake
let blue: string
let green: string
const BLUE = 'alias/tessera-test-blue'
const GREEN = 'alias/tessera-test-green'
let savedEndpoint: string | undefined

const ring = (keys: { kms: string; active?: boolean }[]) =>
  createKeyRing(SigningSchema.parse({ algorithm: 'ES256', keys }))

async function mint(signer: Signer, claims: object): Promise<string> {
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${enc({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })}.${enc(claims)}`
  const sig = await signer.sign(new TextEncoder().encode(input))
  return `${input}.${Buffer.from(sig).toString('base64url')}`
}

/** Verifies as a relying party would: against the JWKS a broker instance publishes. */
async function verifiesWith(keys: KeyRing, token: string): Promise<boolean> {
  const jwks = createLocalJWKSet({ keys: [...keys.publicKeys] } as JSONWebKeySet)
  return compactVerify(token, jwks, { algorithms: ['ES256'] }).then(
    () => true,
    () => false,
  )
}

beforeAll(async () => {
  fake = await startKmsFake()
  blue = fake.createKey('ECC_NIST_P256')
  green = fake.createKey('ECC_NIST_P256')
  fake.alias(BLUE, blue)
  fake.alias(GREEN, green)
  savedEndpoint = process.env.AWS_ENDPOINT_URL_KMS
  process.env.AWS_ENDPOINT_URL_KMS = fake.endpoint
})
afterEach(() => fake.reset())
afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_KMS
  else process.env.AWS_ENDPOINT_URL_KMS = savedEndpoint
  await fake.close()
})

describe('key rotation with signing.keys', () => {
  it('publishes every configured key, active first, and signs only with the active one', async () => {
    const before = await ring([{ kms: BLUE, active: true }, { kms: GREEN }])
    expect(before.publicKeys.map((k) => k.kid)).toEqual([before.active.kid, expect.any(String)])
    expect(new Set(before.publicKeys.map((k) => k.kid)).size).toBe(2)
    for (let i = 0; i < 3; i++) await mint(before.active, { i })
    expect(fake.calls('Sign', blue)).toBe(3)
    expect(fake.calls('Sign', green)).toBe(0)
  })

  it('tokens signed before promotion verify after it, and new tokens verify on not-yet-updated instances', async () => {
    const before = await ring([{ kms: BLUE, active: true }, { kms: GREEN }])
    const old = await mint(before.active, { sub: 'before' })
    const after = await ring([{ kms: BLUE }, { kms: GREEN, active: true }])
    expect(after.active.kid).not.toBe(before.active.kid)
    expect(await verifiesWith(after, old)).toBe(true)
    const fresh = await mint(after.active, { sub: 'after' })
    expect(await verifiesWith(before, fresh)).toBe(true)
    expect(fake.calls('Sign', blue)).toBe(1)
    expect(fake.calls('Sign', green)).toBe(1)
  })

  it('after promotion nothing is signed with the retired key', async () => {
    const after = await ring([{ kms: BLUE }, { kms: GREEN, active: true }])
    for (let i = 0; i < 5; i++) await mint(after.active, { i })
    expect(fake.calls('Sign', blue)).toBe(0)
    expect(fake.calls('Sign', green)).toBe(5)
  })

  it('a failing active key is a 503, never a fallback to the published standby key', async () => {
    const keys = await ring([{ kms: BLUE, active: true }, { kms: GREEN }])
    fake.inject('internal', { op: 'Sign', count: Number.POSITIVE_INFINITY })
    await expect(mint(keys.active, {})).rejects.toBeInstanceOf(TemporarilyUnavailable)
    expect(fake.calls('Sign', green)).toBe(0)
  })

  it('once the old key is removed from config, its tokens no longer verify', async () => {
    const before = await ring([{ kms: BLUE, active: true }, { kms: GREEN }])
    const old = await mint(before.active, {})
    const retired = await ring([{ kms: GREEN, active: true }])
    expect(retired.publicKeys.length).toBe(1)
    expect(await verifiesWith(retired, old)).toBe(false)
  })

  it('a token signed by a key that was never configured does not verify', async () => {
    const stranger = fake.createKey('ECC_NIST_P256')
    const foreign = await ring([{ kms: stranger, active: true }])
    const keys = await ring([{ kms: BLUE, active: true }, { kms: GREEN }])
    expect(await verifiesWith(keys, await mint(foreign.active, {}))).toBe(false)
  })

  it('a standby key that cannot sign ES256 stops start-up rather than publishing a partial set', async () => {
    const rsa = fake.createKey('RSA_2048')
    await expect(ring([{ kms: BLUE, active: true }, { kms: rsa }])).rejects.toBeInstanceOf(KmsKeyError)
  })

  it('a standby key with the wrong KeyUsage stops start-up', async () => {
    const enc = fake.createKey('ECC_NIST_P256', { usage: 'ENCRYPT_DECRYPT' })
    await expect(ring([{ kms: enc }, { kms: GREEN, active: true }])).rejects.toBeInstanceOf(KmsKeyError)
  })

  it('config with two active keys or none is rejected', () => {
    expect(
      SigningSchema.safeParse({
        keys: [
          { kms: BLUE, active: true },
          { kms: GREEN, active: true },
        ],
      }).success,
    ).toBe(false)
    expect(SigningSchema.safeParse({ keys: [{ kms: BLUE }, { kms: GREEN }] }).success).toBe(false)
  })
})

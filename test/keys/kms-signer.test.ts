import { KMSClient } from '@aws-sdk/client-kms'
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { awsClientConfig } from '../../lib/aws/retry.js'
import type { SigningAlgorithm } from '../../lib/config/schema.js'
import { DependencyThrottled, KmsKeyError, TemporarilyUnavailable } from '../../lib/errors.js'
import { createKmsSigner } from '../../lib/keys/kms-signer.js'
import type { Signer } from '../../lib/keys/signer.js'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'

let fake: KmsFake
let ecKey: string
let rsaKey: string
let rsa3072Key: string

const clientFor = (f: KmsFake, extra: Partial<ConstructorParameters<typeof KMSClient>[0]> = {}) =>
  new KMSClient({
    ...awsClientConfig('kms'),
    endpoint: f.endpoint,
    region: f.region,
    credentials: { accessKeyId: 'AKIDTESTTESSERA', secretAccessKey: 'test-secret' },
    ...extra,
  })

/** Builds a compact JWS with the signer, as the access-token minting does. */
async function jws(signer: Signer, claims: object): Promise<string> {
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${enc({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })}.${enc(claims)}`
  const sig = await signer.sign(new TextEncoder().encode(input))
  return `${input}.${Buffer.from(sig).toString('base64url')}`
}

async function verifies(signer: Signer, token: string): Promise<boolean> {
  const key = await importJWK(signer.publicJwk, signer.alg)
  return compactVerify(token, key, { algorithms: [signer.alg] }).then(
    () => true,
    () => false,
  )
}

beforeAll(async () => {
  fake = await startKmsFake()
  ecKey = fake.createKey('ECC_NIST_P256')
  rsaKey = fake.createKey('RSA_2048')
  rsa3072Key = fake.createKey('RSA_3072')
  fake.alias('alias/tessera-signing', ecKey)
})
afterEach(() => fake.reset())
afterAll(() => fake.close())

describe('createKmsSigner: tokens verify with jose', () => {
  const cases: [SigningAlgorithm, () => string][] = [
    ['ES256', () => ecKey],
    ['RS256', () => rsaKey],
    ['PS256', () => rsa3072Key],
  ]
  for (const [alg, key] of cases) {
    it(`${alg}: JWS signed through KMS verifies against the published JWK`, async () => {
      const signer = await createKmsSigner(key(), alg, { client: clientFor(fake) })
      const { d: _d, ...publicOnly } = signer.publicJwk
      expect(_d).toBeUndefined()
      expect(signer.publicJwk).toMatchObject({ kid: signer.kid, alg, use: 'sig' })
      expect(signer.kid).toBe(await calculateJwkThumbprint(publicOnly, 'sha256'))
      const token = await jws(signer, { sub: 'repo:acme/app', iat: 1 })
      expect(await verifies(signer, token)).toBe(true)
      // A changed payload under the same signature must not verify.
      const [h, , s] = token.split('.')
      const forged = `${h}.${Buffer.from('{"sub":"evil"}').toString('base64url')}.${s}`
      expect(await verifies(signer, forged)).toBe(false)
    })
  }

  it('resolves an alias once and keeps signing with that key after the alias moves', async () => {
    const signer = await createKmsSigner('alias/tessera-signing', 'ES256', { client: clientFor(fake) })
    fake.alias('alias/tessera-signing', fake.createKey('ECC_NIST_P256'))
    const token = await jws(signer, { n: 1 })
    expect(await verifies(signer, token)).toBe(true)
    expect(fake.calls('Sign', ecKey)).toBe(1)
    fake.alias('alias/tessera-signing', ecKey)
  })

  it('honours AWS_ENDPOINT_URL_KMS when no client is injected', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_KMS
    process.env.AWS_ENDPOINT_URL_KMS = fake.endpoint
    try {
      const signer = await createKmsSigner(ecKey, 'ES256')
      expect(await verifies(signer, await jws(signer, { n: 2 }))).toBe(true)
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KMS
      else process.env.AWS_ENDPOINT_URL_KMS = saved
    }
  })
})

describe('createKmsSigner: cost per token', () => {
  it('makes 1 DescribeKey + 1 GetPublicKey at start, then exactly 1 Sign and 0 GetPublicKey per token', async () => {
    const signer = await createKmsSigner(ecKey, 'ES256', { client: clientFor(fake) })
    expect(fake.calls('DescribeKey')).toBe(1)
    expect(fake.calls('GetPublicKey')).toBe(1)
    for (let i = 0; i < 10; i++) await jws(signer, { i })
    expect(fake.calls('Sign')).toBe(10)
    expect(fake.calls('GetPublicKey')).toBe(1)
    expect(fake.calls('DescribeKey')).toBe(1)
  })
})

describe('createKmsSigner: retries and 503', () => {
  it('retries throttling and then signs', async () => {
    const signer = await createKmsSigner(ecKey, 'ES256', { client: clientFor(fake) })
    fake.inject('throttle', { op: 'Sign', count: 1 })
    expect(await verifies(signer, await jws(signer, {}))).toBe(true)
    expect(fake.calls('Sign')).toBe(2)
  })

  it('retries a KMSInternalException and then signs', async () => {
    const signer = await createKmsSigner(rsaKey, 'RS256', { client: clientFor(fake) })
    fake.inject('internal', { op: 'Sign' })
    expect(await verifies(signer, await jws(signer, {}))).toBe(true)
    expect(fake.calls('Sign')).toBe(2)
  })

  const failing: [string, Parameters<KmsFake['inject']>[0], number][] = [
    ['persistent throttling', 'throttle', 3],
    ['persistent KMSInternalException', 'internal', 3],
    ['persistent connection resets', 'reset', 3],
    ['a reply that is not JSON', 'garbage', 1],
    ['a reply without a Signature', 'missing-field', 1],
    ['a signature that is not DER', 'bad-der', 1],
  ]
  for (const [name, fault, attempts] of failing) {
    it(`${name} => TemporarilyUnavailable after ${attempts} attempt(s), never a signature`, async () => {
      const signer = await createKmsSigner(ecKey, 'ES256', { client: clientFor(fake) })
      fake.inject(fault, { op: 'Sign', count: Number.POSITIVE_INFINITY })
      const err = await signer.sign(new Uint8Array([1])).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TemporarilyUnavailable)
      expect((err as TemporarilyUnavailable).status).toBe(503)
      // Only a quota refusal is a throttle (the `throttles` metric, a short Retry-After).
      expect(err instanceof DependencyThrottled).toBe(fault === 'throttle')
      expect(fake.calls('Sign')).toBe(attempts)
    })
  }

  it('a KMS that does not answer => TemporarilyUnavailable at the overall deadline', async () => {
    const client = clientFor(fake, { requestHandler: { requestTimeout: 5_000, throwOnRequestTimeout: true } })
    const signer = await createKmsSigner(ecKey, 'ES256', { client, deadlineMs: 150 })
    fake.inject('latency', { op: 'Sign', ms: 1_000 })
    await expect(signer.sign(new Uint8Array([1]))).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })

  it('per-attempt timeouts are retried at most 3 times, then 503', async () => {
    const client = clientFor(fake, { requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } })
    const signer = await createKmsSigner(ecKey, 'ES256', { client })
    fake.inject('latency', { op: 'Sign', ms: 400, count: Number.POSITIVE_INFINITY })
    await expect(signer.sign(new Uint8Array([1]))).rejects.toBeInstanceOf(TemporarilyUnavailable)
    // Latency faults answer late; the client gave up on each, and made no 4th attempt.
    await new Promise((r) => setTimeout(r, 500))
    expect(fake.calls('Sign')).toBe(3)
  })

  it('a key disabled after start => TemporarilyUnavailable, not a 500', async () => {
    const key = fake.createKey('ECC_NIST_P256')
    const signer = await createKmsSigner(key, 'ES256', { client: clientFor(fake) })
    fake.setState(key, 'Disabled')
    await expect(signer.sign(new Uint8Array([1]))).rejects.toBeInstanceOf(TemporarilyUnavailable)
  })
})

describe('createKmsSigner: startup checks', () => {
  const bad: [string, () => string, SigningAlgorithm, RegExp][] = [
    [
      'KeyUsage ENCRYPT_DECRYPT',
      () => fake.createKey('ECC_NIST_P256', { usage: 'ENCRYPT_DECRYPT' }),
      'ES256',
      /SIGN_VERIFY/,
    ],
    ['an RSA key for ES256', () => rsaKey, 'ES256', /KeySpec RSA_2048 cannot sign ES256/],
    ['a P-256 key for RS256', () => ecKey, 'RS256', /KeySpec ECC_NIST_P256 cannot sign RS256/],
    ['a P-256 key for PS256', () => ecKey, 'PS256', /cannot sign PS256/],
    [
      'a disabled key',
      () => fake.createKey('ECC_NIST_P256', { state: 'Disabled' }),
      'ES256',
      /KeyState is Disabled/,
    ],
    [
      'a key pending deletion',
      () => fake.createKey('RSA_2048', { state: 'PendingDeletion' }),
      'RS256',
      /PendingDeletion/,
    ],
    ['an unknown key', () => '1234abcd-12ab-34cd-56ef-1234567890ab', 'ES256', /NotFoundException/],
    ['an unknown alias', () => 'alias/nope', 'ES256', /NotFoundException/],
  ]
  for (const [name, key, alg, message] of bad) {
    it(`refuses ${name}`, async () => {
      const err = await createKmsSigner(key(), alg, { client: clientFor(fake) }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(KmsKeyError)
      expect((err as Error).message).toMatch(message)
      expect(fake.calls('Sign')).toBe(0)
    })
  }

  it('a KMS that throttles at start => TemporarilyUnavailable (not a config error)', async () => {
    fake.inject('throttle', { op: 'DescribeKey', count: Number.POSITIVE_INFINITY })
    await expect(createKmsSigner(ecKey, 'ES256', { client: clientFor(fake) })).rejects.toBeInstanceOf(
      TemporarilyUnavailable,
    )
    expect(fake.calls('DescribeKey')).toBe(3)
  })

  it('a GetPublicKey reply without PublicKey => startup error', async () => {
    fake.inject('missing-field', { op: 'GetPublicKey' })
    await expect(createKmsSigner(ecKey, 'ES256', { client: clientFor(fake) })).rejects.toBeInstanceOf(
      KmsKeyError,
    )
  })

  it('requests without an Authorization header are refused by the fake', async () => {
    const res = await fetch(fake.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'TrentService.Sign', 'content-type': 'application/x-amz-json-1.1' },
      body: JSON.stringify({ KeyId: ecKey }),
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { __type: string }).__type).toBe('MissingAuthenticationTokenException')
  })
})

import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { awsClientConfig } from '../../lib/aws/retry.js'
import type { GithubAppConfig } from '../../lib/config/github.js'
import { createGithubMinter } from '../../lib/credentials/github.js'
import { BrokerError } from '../../lib/errors.js'
import { loadAppSigner } from '../../lib/github/app-key.js'
import { startGithubFake } from '../fakes/github.js'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'
import { APP_ID, appKey, grant, INSTALLATIONS, mintContext, SUBJECT } from './github-fixture.js'

let kms: KmsFake
let dir: string

beforeAll(async () => {
  kms = await startKmsFake()
  dir = mkdtempSync(join(tmpdir(), 'tessera-gh-key-'))
})
afterAll(async () => {
  await kms.close()
  rmSync(dir, { recursive: true, force: true })
})

const kmsClient = () =>
  new KMSClient({
    ...awsClientConfig('kms'),
    endpoint: kms.endpoint,
    region: kms.region,
    credentials: { accessKeyId: 'AKIDTESTTESSERA', secretAccessKey: 'test-secret' },
  })

function app(privateKey: GithubAppConfig['privateKey'], apiUrl = 'https://api.github.com'): GithubAppConfig {
  return { name: 'ci-bot', appId: String(APP_ID), privateKey, apiUrl }
}

function pemFile(name: string, pem: string, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, pem, { mode })
  chmodSync(path, mode)
  return path
}

describe('GitHub App key: KMS (RSA_2048, RSASSA_PKCS1_V1_5_SHA_256) through the real KMS client', () => {
  it('signs app JWTs GitHub accepts, one KMS Sign for many exchanges', async () => {
    const keyId = kms.createKey('RSA_2048')
    kms.alias('alias/tessera-github-ci-bot', keyId)
    const client = kmsClient()
    const pub = await client.send(new GetPublicKeyCommand({ KeyId: keyId }))
    const github = await startGithubFake({
      apps: [
        {
          iss: String(APP_ID),
          appId: APP_ID,
          publicKey: createPublicKey({
            key: Buffer.from(pub.PublicKey as Uint8Array),
            format: 'der',
            type: 'spki',
          }),
        },
      ],
      installations: INSTALLATIONS,
    })
    try {
      const minter = createGithubMinter(
        { apps: [app({ kms: 'alias/tessera-github-ci-bot' }, github.url)] },
        { keys: { kmsClient: client } },
      )
      kms.reset()
      for (let i = 0; i < 5; i++) {
        const out = await minter.mint(grant(), SUBJECT, mintContext({ requestId: `r${i}` }))
        expect(out.body.access_token).toMatch(/^ghs_/)
      }
      expect(kms.calls('Sign')).toBe(1)
      expect(github.requests.every((r) => r.auth === 'ok')).toBe(true)
    } finally {
      await github.close()
    }
  })

  it('refuses an ECC key (GitHub App keys are RSA)', async () => {
    const keyId = kms.createKey('ECC_NIST_P256')
    await expect(loadAppSigner(app({ kms: keyId }), { kmsClient: kmsClient() })).rejects.toThrow(/KeySpec/)
  })

  it('refuses a disabled key and an encryption key', async () => {
    const disabled = kms.createKey('RSA_2048', { state: 'Disabled' })
    const encrypt = kms.createKey('RSA_2048', { usage: 'ENCRYPT_DECRYPT' })
    await expect(loadAppSigner(app({ kms: disabled }), { kmsClient: kmsClient() })).rejects.toThrow(
      /KeyState/,
    )
    await expect(loadAppSigner(app({ kms: encrypt }), { kmsClient: kmsClient() })).rejects.toThrow(/KeyUsage/)
  })

  it('a KMS outage while signing is a 503, never a 500', async () => {
    const keyId = kms.createKey('RSA_2048')
    const signer = await loadAppSigner(app({ kms: keyId }), { kmsClient: kmsClient() })
    kms.inject('internal', { op: 'Sign', count: 3 })
    const err = await signer.sign(new Uint8Array([1])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BrokerError)
    expect((err as BrokerError).status).toBe(503)
  })
})

describe('GitHub App key: local PEM (development)', () => {
  const pkcs1 = appKey.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string
  const pkcs8 = appKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string

  it('reads PKCS#1 (as GitHub downloads it) and PKCS#8, relative to the broker base folder', async () => {
    pemFile('app1.pem', pkcs1)
    pemFile('app8.pem', pkcs8)
    const a = await loadAppSigner(app({ local: 'app1.pem' }), { baseDir: dir })
    const b = await loadAppSigner(app({ local: join(dir, 'app8.pem') }))
    expect(a.alg).toBe('RS256')
    expect(a.publicJwk.n).toBe(b.publicJwk.n)
  })

  it('refuses a key file others can read', async () => {
    const path = pemFile('open.pem', pkcs1, 0o644)
    await expect(loadAppSigner(app({ local: path }))).rejects.toThrow(/chmod 600/)
  })

  it('refuses an EC key, a public key, and text that is not PEM', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    })
    const pub = appKey.publicKey.export({ format: 'pem', type: 'spki' }) as string
    for (const [name, text] of [
      ['ec.pem', ec as string],
      ['pub.pem', pub],
      ['junk.pem', 'not a key'],
    ] as const) {
      await expect(loadAppSigner(app({ local: pemFile(name, text) })), name).rejects.toThrow(
        /not a PEM RSA private key/,
      )
    }
  })

  it('refuses an RSA key under 2048 bits', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs1',
    })
    await expect(loadAppSigner(app({ local: pemFile('small.pem', small as string) }))).rejects.toThrow(/2048/)
  })

  it('a missing file is an error naming the path', async () => {
    await expect(loadAppSigner(app({ local: join(dir, 'absent.pem') }))).rejects.toThrow(/absent\.pem/)
  })
})

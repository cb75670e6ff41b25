import {
  createPrivateKey,
  createPublicKey,
  constants as cryptoConstants,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
} from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { calculateJwkThumbprint, type JWK } from 'jose'
import * as z from 'zod'
import type { SigningAlgorithm } from '../config/schema.js'
import type { Signer } from './signer.js'

const PrivateJwkSchema = z.looseObject({
  kty: z.enum(['EC', 'RSA']),
  d: z.string().min(1),
  kid: z.string().min(1).optional(),
  alg: z.string().optional(),
})

/** Loads the private JWK at `path`, creating it (mode 0600, parent folder created) when absent. */
export async function loadOrCreateKeyFile(path: string, alg: SigningAlgorithm): Promise<JWK> {
  const existing = await readKeyFile(path)
  if (existing) return existing
  const jwk = await generatePrivateJwk(alg)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  try {
    await writeFile(path, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process created it first: use theirs, so both agree on one key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readKeyFile(path)) as JWK
    throw err
  }
  await chmod(path, 0o600)
  return jwk
}

async function readKeyFile(path: string): Promise<JWK | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const mode = (await stat(path)).mode & 0o777
  if (mode & 0o077)
    throw new Error(
      `${path}: private key file is accessible by others (mode ${mode.toString(8)}); run chmod 600`,
    )
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error(`${path}: not a JSON private JWK`)
  }
  const result = PrivateJwkSchema.safeParse(parsed)
  if (!result.success) throw new Error(`${path}: not a private JWK (${result.error.issues[0]?.message})`)
  return result.data as JWK
}

/** Generates a private JWK for `alg` with `kid` (RFC 7638 thumbprint) and `alg` set. */
export async function generatePrivateJwk(alg: SigningAlgorithm): Promise<JWK> {
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' }) as JWK
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg }
}

/** A Signer over a local private JWK (node:crypto, synchronous sign). */
export async function createLocalSigner(privateJwk: JWK, alg: SigningAlgorithm): Promise<Signer> {
  if (privateJwk.alg && privateJwk.alg !== alg)
    throw new Error(`key is for ${privateJwk.alg}, but signing.algorithm is ${alg}`)
  const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' })
  checkKeyFits(key, alg)
  const pub = createPublicKey(key).export({ format: 'jwk' }) as JWK
  const kid = await calculateJwkThumbprint(pub)
  const options =
    alg === 'ES256'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : alg === 'PS256'
        ? { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
        : { key }
  return {
    alg,
    kid,
    publicJwk: { ...pub, kid, alg, use: 'sig' },
    async sign(signingInput) {
      return sign('sha256', signingInput, options)
    },
  }
}

function checkKeyFits(key: KeyObject, alg: SigningAlgorithm): void {
  const details = key.asymmetricKeyDetails
  if (alg === 'ES256') {
    if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1')
      throw new Error('ES256 needs a P-256 EC key')
  } else if (key.asymmetricKeyType !== 'rsa' || (details?.modulusLength ?? 0) < 2048) {
    throw new Error(`${alg} needs an RSA key of at least 2048 bits`)
  }
}

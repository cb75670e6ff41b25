/**
 * The signer of a GitHub App's private key: an AWS KMS RSA key holding the imported key
 * (RSASSA_PKCS1_V1_5_SHA_256), or a local PEM for development (PKCS#1 as GitHub downloads it, or
 * PKCS#8). Either way the key sits behind the Signer interface like Tessera's own signing key.
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import type { KMSClient } from '@aws-sdk/client-kms'
import type { JWK } from 'jose'
import type { GithubAppConfig } from '../config/github.js'
import { createKmsSigner } from '../keys/kms-signer.js'
import { createLocalSigner } from '../keys/local-signer.js'
import type { Signer } from '../keys/signer.js'

/** Options for loading App keys; a KMS client may be injected (tests), else the SDK default is used. */
export interface AppKeyOptions {
  readonly baseDir?: string | undefined
  readonly kmsClient?: KMSClient | undefined
}

/** Loads the App's signer: checks the KMS key (RSA, SIGN_VERIFY, enabled) or reads and checks the PEM. */
export async function loadAppSigner(app: GithubAppConfig, opts: AppKeyOptions = {}): Promise<Signer> {
  const key = app.privateKey
  if ('kms' in key) return createKmsSigner(key.kms, 'RS256', opts.kmsClient ? { client: opts.kmsClient } : {})
  const path = isAbsolute(key.local) || !opts.baseDir ? key.local : join(opts.baseDir, key.local)
  const mode = (await stat(path)).mode & 0o777
  if (mode & 0o077) {
    throw new Error(
      `${path}: the GitHub App private key is accessible by others (mode ${mode.toString(8)}); run chmod 600`,
    )
  }
  let jwk: JWK
  try {
    const pem = await readFile(path, 'utf8')
    const privateKey = createPrivateKey({ key: pem, format: 'pem' })
    if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('not an RSA key')
    jwk = privateKey.export({ format: 'jwk' }) as JWK & JsonWebKey
  } catch (err) {
    throw new Error(`${path}: not a PEM RSA private key (${(err as Error).message})`)
  }
  return createLocalSigner(jwk, 'RS256')
}

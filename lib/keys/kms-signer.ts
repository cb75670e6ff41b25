import { createHash, createPublicKey } from 'node:crypto'
import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms'
import { calculateJwkThumbprint, type JWK } from 'jose'
import * as z from 'zod'
import {
  AWS_DEADLINE_MS,
  awsClientConfig,
  isThrottlingAwsError,
  isTransientAwsError,
  withDeadline,
} from '../aws/retry.js'
import type { SigningAlgorithm } from '../config/schema.js'
import { DependencyThrottled, KmsKeyError, TemporarilyUnavailable } from '../errors.js'
import { derToJose } from './der-signature.js'
import type { Signer } from './signer.js'

/** Per algorithm: the KMS key specs that can serve it and the KMS signing algorithm to ask for. */
const ALGORITHMS: Record<SigningAlgorithm, { specs: readonly string[]; kms: string; kty: 'EC' | 'RSA' }> = {
  ES256: { specs: ['ECC_NIST_P256'], kms: 'ECDSA_SHA_256', kty: 'EC' },
  RS256: { specs: ['RSA_2048', 'RSA_3072', 'RSA_4096'], kms: 'RSASSA_PKCS1_V1_5_SHA_256', kty: 'RSA' },
  PS256: { specs: ['RSA_2048', 'RSA_3072', 'RSA_4096'], kms: 'RSASSA_PSS_SHA_256', kty: 'RSA' },
}

// Only the members Tessera relies on; KMS may add others.
const DescribeKeySchema = z.object({
  KeyMetadata: z.object({
    KeyId: z.string().min(1),
    Arn: z.string().min(1),
    KeyState: z.string(),
    KeyUsage: z.string(),
    KeySpec: z.string(),
  }),
})
const GetPublicKeySchema = z.object({
  KeyId: z.string().min(1),
  PublicKey: z.instanceof(Uint8Array).refine((b) => b.length > 0, 'empty'),
  KeyUsage: z.string(),
  KeySpec: z.string(),
  SigningAlgorithms: z.array(z.string()).optional(),
})
const SignSchema = z.object({
  KeyId: z.string().min(1),
  Signature: z.instanceof(Uint8Array).refine((b) => b.length > 0, 'empty'),
  SigningAlgorithm: z.string(),
})

/**
 * Runs one KMS call under the overall deadline; throttling becomes DependencyThrottled (the request
 * quota is shared per account and region), other transient failures TemporarilyUnavailable.
 */
async function call<T>(
  what: string,
  run: (signal: AbortSignal) => Promise<T>,
  deadlineMs: number,
): Promise<T> {
  try {
    return await withDeadline(run, deadlineMs)
  } catch (err) {
    if (isThrottlingAwsError(err)) {
      throw new DependencyThrottled(
        'kms',
        'signing service is over its request quota; retry later',
      ).withDetail(`KMS ${what}: ${describe(err)}`)
    }
    if (isTransientAwsError(err)) {
      throw new TemporarilyUnavailable('signing service is temporarily unavailable').withDetail(
        `KMS ${what}: ${describe(err)}`,
      )
    }
    throw err
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** Loads the key's metadata and public key once and checks it can sign `alg`; throws KmsKeyError if not. */
async function loadKey(client: KMSClient, keyId: string, alg: SigningAlgorithm, deadlineMs: number) {
  const want = ALGORITHMS[alg]
  const wrap = (err: unknown): never => {
    // Transient trouble stays a 503; anything else (not found, disabled, access denied) is misconfiguration.
    if (err instanceof TemporarilyUnavailable) throw err
    throw new KmsKeyError(keyId, describe(err), { cause: err })
  }
  const described = await call(
    'DescribeKey',
    (abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }),
    deadlineMs,
  ).catch(wrap)
  const meta = DescribeKeySchema.safeParse(described)
  if (!meta.success) throw new KmsKeyError(keyId, 'DescribeKey returned an unexpected response')
  const { Arn, KeyState, KeyUsage, KeySpec } = meta.data.KeyMetadata
  if (KeyUsage !== 'SIGN_VERIFY')
    throw new KmsKeyError(keyId, `KeyUsage is ${KeyUsage}, expected SIGN_VERIFY`)
  if (KeyState !== 'Enabled') throw new KmsKeyError(keyId, `KeyState is ${KeyState}, expected Enabled`)
  if (!want.specs.includes(KeySpec)) {
    throw new KmsKeyError(keyId, `KeySpec ${KeySpec} cannot sign ${alg}; use ${want.specs.join(' or ')}`)
  }
  // Pin the resolved ARN: an alias retargeted later must not make this process sign with a key
  // whose public half it does not publish.
  const fetched = await call(
    'GetPublicKey',
    (abortSignal) => client.send(new GetPublicKeyCommand({ KeyId: Arn }), { abortSignal }),
    deadlineMs,
  ).catch(wrap)
  const pub = GetPublicKeySchema.safeParse(fetched)
  if (!pub.success) throw new KmsKeyError(keyId, 'GetPublicKey returned an unexpected response')
  if (pub.data.KeySpec !== KeySpec || pub.data.KeyUsage !== 'SIGN_VERIFY') {
    throw new KmsKeyError(keyId, 'GetPublicKey disagrees with DescribeKey about the key')
  }
  if (pub.data.SigningAlgorithms && !pub.data.SigningAlgorithms.includes(want.kms)) {
    throw new KmsKeyError(keyId, `key does not support ${want.kms}`)
  }
  let jwk: JWK
  try {
    jwk = createPublicKey({ key: Buffer.from(pub.data.PublicKey), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    }) as JWK
  } catch (err) {
    throw new KmsKeyError(keyId, 'public key is not a valid SPKI DER structure', { cause: err })
  }
  if (jwk.kty !== want.kty || (want.kty === 'EC' && jwk.crv !== 'P-256')) {
    throw new KmsKeyError(keyId, `public key type ${jwk.kty}/${jwk.crv ?? '-'} does not fit ${alg}`)
  }
  return { arn: Arn, jwk }
}

/** Byte length of an RSA modulus from its base64url JWK member. */
function modulusBytes(n: string): number {
  const raw = Buffer.from(n, 'base64url')
  return raw[0] === 0 ? raw.length - 1 : raw.length
}

/**
 * A Signer backed by an AWS KMS SIGN_VERIFY key (id, alias or ARN). Checks the key at creation
 * (usage, state, spec vs `alg`) and caches its public key; each `sign` is exactly one KMS `Sign`
 * (DIGEST of SHA-256), retried by the SDK (≤ 3 attempts, 5 s overall) and otherwise 503.
 */
export async function createKmsSigner(
  keyId: string,
  alg: SigningAlgorithm,
  opts: { client?: KMSClient; deadlineMs?: number } = {},
): Promise<Signer> {
  const client = opts.client ?? new KMSClient({ ...awsClientConfig('kms') })
  const deadlineMs = opts.deadlineMs ?? AWS_DEADLINE_MS
  const { arn, jwk } = await loadKey(client, keyId, alg, deadlineMs)
  const kid = await calculateJwkThumbprint(jwk, 'sha256')
  const publicJwk: JWK = Object.freeze({ ...jwk, kid, alg, use: 'sig' })
  const want = ALGORITHMS[alg]
  const rsaLength = jwk.kty === 'RSA' && jwk.n ? modulusBytes(jwk.n) : 0

  const sign = async (signingInput: Uint8Array): Promise<Uint8Array> => {
    const digest = createHash('sha256').update(signingInput).digest()
    const command = new SignCommand({
      KeyId: arn,
      Message: digest,
      MessageType: 'DIGEST',
      SigningAlgorithm: want.kms as 'ECDSA_SHA_256',
    })
    let reply: unknown
    try {
      reply = await call('Sign', (abortSignal) => client.send(command, { abortSignal }), deadlineMs)
    } catch (err) {
      // Whatever KMS said (disabled key, access denied, …), no token leaves unsigned: 503, never 500.
      if (err instanceof TemporarilyUnavailable) throw err
      throw new TemporarilyUnavailable('signing service is temporarily unavailable').withDetail(
        `KMS Sign: ${describe(err)}`,
      )
    }
    const parsed = SignSchema.safeParse(reply)
    const bad = (why: string) =>
      new TemporarilyUnavailable('signing service is temporarily unavailable').withDetail(`KMS Sign: ${why}`)
    if (!parsed.success) throw bad('unexpected response shape')
    if (parsed.data.SigningAlgorithm !== want.kms) throw bad(`signed with ${parsed.data.SigningAlgorithm}`)
    const signature = parsed.data.Signature
    if (want.kty === 'EC') {
      try {
        return derToJose(signature, 32)
      } catch (err) {
        throw bad(describe(err))
      }
    }
    if (signature.length !== rsaLength) throw bad(`RSA signature of ${signature.length} bytes`)
    return signature
  }

  return Object.freeze({ alg, kid, publicJwk, sign })
}

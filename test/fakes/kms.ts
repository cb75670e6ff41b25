import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  randomBytes,
  randomUUID,
} from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signDigestP256 } from './ecdsa-prehash.js'

/**
 * A loopback AWS KMS speaking the JSON 1.1 wire protocol (TrentService.DescribeKey, GetPublicKey,
 * Sign) with real node:crypto keys, for the real @aws-sdk/client-kms. Requires an Authorization
 * header (does not verify SigV4). Counts calls and injects faults.
 */

export type KmsKeySpec = 'ECC_NIST_P256' | 'RSA_2048' | 'RSA_3072'
export type KmsOp = 'DescribeKey' | 'GetPublicKey' | 'Sign'
export type KmsFault =
  | 'throttle' // 400 ThrottlingException
  | 'internal' // 500 KMSInternalException
  | 'latency' // answer normally, `ms` after the request arrived
  | 'garbage' // 200 with a body that is not JSON
  | 'missing-field' // 200 with `{}`
  | 'bad-der' // Sign: 200 with a signature that is not DER
  | 'reset' // drop the connection

export interface KmsFake {
  readonly endpoint: string
  readonly region: string
  readonly account: string
  createKey(spec: KmsKeySpec, opts?: { usage?: string; state?: string }): string
  alias(name: string, keyId: string): void
  arn(keyId: string): string
  setState(keyId: string, state: string): void
  /** Calls answered or faulted, optionally for one operation and/or one key (id, ARN or alias). */
  calls(op?: KmsOp, keyId?: string): number
  /** The next `count` matching calls (default 1; Infinity for persistent) get `fault`. */
  inject(fault: KmsFault, opts?: { count?: number; op?: KmsOp; ms?: number }): void
  reset(): void
  close(): Promise<void>
}

interface FakeKey {
  id: string
  arn: string
  spec: KmsKeySpec
  usage: string
  state: string
  privateKey: KeyObject
  spki: Buffer
  d?: string
}

const SIGNING_ALGORITHMS: Record<KmsKeySpec, string[]> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  RSA_2048: ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'],
  RSA_3072: ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'],
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex')

function mgf1(seed: Buffer, length: number): Buffer {
  const out: Buffer[] = []
  for (let i = 0; out.length * 32 < length; i++) {
    const c = Buffer.alloc(4)
    c.writeUInt32BE(i)
    out.push(createHash('sha256').update(seed).update(c).digest())
  }
  return Buffer.concat(out).subarray(0, length)
}

/** RFC 8017 EMSA-PSS-ENCODE with SHA-256, MGF1-SHA-256, salt length 32 (what KMS and JOSE PS256 use). */
function pssEncode(mHash: Buffer, modBits: number): Buffer {
  const emBits = modBits - 1
  const emLen = Math.ceil(emBits / 8)
  const salt = randomBytes(32)
  const h = createHash('sha256').update(Buffer.alloc(8)).update(mHash).update(salt).digest()
  const db = Buffer.concat([Buffer.alloc(emLen - 32 - 32 - 2), Buffer.from([1]), salt])
  const mask = mgf1(h, emLen - 33)
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!
  db[0]! &= 0xff >> (8 * emLen - emBits)
  return Buffer.concat([db, h, Buffer.from([0xbc])])
}

function signDigest(key: FakeKey, algorithm: string, digest: Buffer): Buffer {
  if (algorithm === 'ECDSA_SHA_256') return signDigestP256(digest, key.d!)
  if (algorithm === 'RSASSA_PKCS1_V1_5_SHA_256') {
    return privateEncrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([SHA256_DIGEST_INFO, digest]),
    )
  }
  const bits = key.spec === 'RSA_2048' ? 2048 : 3072
  return privateEncrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, pssEncode(digest, bits))
}

/** Resolves once `performance.now()` has reached `due` (at once when it has). */
function until(due: number): Promise<void> {
  const wait = due - performance.now()
  return wait > 0 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve()
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startKmsFake(opts: { region?: string; account?: string } = {}): Promise<KmsFake> {
  const region = opts.region ?? 'us-east-1'
  const account = opts.account ?? '111122223333'
  const keys = new Map<string, FakeKey>()
  const aliases = new Map<string, string>()
  const log: { op: string; keyArn: string | undefined }[] = []
  // Requests still in flight across reset() (late replies) must not count towards the next test.
  let generation = 0
  let faults: { fault: KmsFault; left: number; op: KmsOp | undefined; ms: number }[] = []

  const resolve = (ref: unknown): FakeKey => {
    if (typeof ref !== 'string' || ref.length === 0)
      throw new KmsError('ValidationException', 'KeyId is required')
    let id = ref
    const aliasMatch = /^(?:arn:aws:kms:[^:]+:\d{12}:)?(alias\/.+)$/.exec(ref)
    if (aliasMatch) id = aliases.get(aliasMatch[1]!) ?? ''
    const arnMatch = /^arn:aws:kms:[^:]+:\d{12}:key\/(.+)$/.exec(id)
    if (arnMatch) id = arnMatch[1]!
    const key = keys.get(id)
    if (!key) throw new KmsError('NotFoundException', `Key '${ref}' does not exist`)
    return key
  }

  const handle = async (op: string, input: Record<string, unknown>, gen: number): Promise<unknown> => {
    const key = resolve(input.KeyId)
    if (gen === generation) log.push({ op, keyArn: key.arn })
    const algorithms = key.usage === 'SIGN_VERIFY' ? SIGNING_ALGORITHMS[key.spec] : undefined
    if (op === 'DescribeKey') {
      return {
        KeyMetadata: {
          AWSAccountId: account,
          KeyId: key.id,
          Arn: key.arn,
          CreationDate: 1_700_000_000,
          Enabled: key.state === 'Enabled',
          KeyState: key.state,
          KeyUsage: key.usage,
          KeySpec: key.spec,
          CustomerMasterKeySpec: key.spec,
          KeyManager: 'CUSTOMER',
          Origin: 'AWS_KMS',
          ...(algorithms ? { SigningAlgorithms: algorithms } : {}),
        },
      }
    }
    if (key.state !== 'Enabled') throw new KmsError('DisabledException', `${key.arn} is ${key.state}`)
    if (op === 'GetPublicKey') {
      return {
        KeyId: key.arn,
        PublicKey: key.spki.toString('base64'),
        KeySpec: key.spec,
        CustomerMasterKeySpec: key.spec,
        KeyUsage: key.usage,
        ...(algorithms ? { SigningAlgorithms: algorithms } : {}),
      }
    }
    if (op === 'Sign') {
      if (key.usage !== 'SIGN_VERIFY')
        throw new KmsError('InvalidKeyUsageException', 'key usage is not SIGN_VERIFY')
      const algorithm = String(input.SigningAlgorithm)
      if (!SIGNING_ALGORITHMS[key.spec].includes(algorithm)) {
        throw new KmsError('InvalidKeyUsageException', `${algorithm} is not valid for ${key.spec}`)
      }
      const message = Buffer.from(String(input.Message ?? ''), 'base64')
      const type = input.MessageType ?? 'RAW'
      if (type === 'DIGEST' && message.length !== 32)
        throw new KmsError('ValidationException', 'digest length')
      if (type === 'RAW' && (message.length === 0 || message.length > 4096)) {
        throw new KmsError('ValidationException', 'message length')
      }
      const digest = type === 'DIGEST' ? message : createHash('sha256').update(message).digest()
      return {
        KeyId: key.arn,
        Signature: signDigest(key, algorithm, digest).toString('base64'),
        SigningAlgorithm: algorithm,
      }
    }
    throw new KmsError('UnknownOperationException', `${op} is not implemented by the fake`)
  }

  const takeFault = (op: string) => {
    const f = faults.find((x) => x.left > 0 && (x.op === undefined || x.op === op))
    if (!f) return undefined
    f.left -= 1
    faults = faults.filter((x) => x.left > 0)
    return f
  }

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const gen = generation
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const target = String(req.headers['x-amz-target'] ?? '')
    const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : ''
    if (req.method !== 'POST' || !op) return reply(res, 400, { __type: 'UnknownOperationException' })
    if (!req.headers.authorization) {
      return reply(res, 400, { __type: 'MissingAuthenticationTokenException', message: 'no Authorization' })
    }
    if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) {
      return reply(res, 400, { __type: 'SerializationException', message: 'content type' })
    }
    const fault = takeFault(op)
    // Latency is the answer time: the reply leaves `ms` after the request arrived, whatever the
    // fake's own signing took meanwhile.
    const due = fault?.fault === 'latency' ? performance.now() + fault.ms : 0
    if (fault && fault.fault !== 'latency' && fault.fault !== 'bad-der') {
      log.push({ op, keyArn: undefined })
      if (fault.fault === 'reset') return req.socket.destroy()
      if (fault.fault === 'throttle')
        return reply(res, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' })
      if (fault.fault === 'internal')
        return reply(res, 500, { __type: 'KMSInternalException', message: 'oops' })
      if (fault.fault === 'garbage') return reply(res, 200, '<html>not json')
      if (fault.fault === 'missing-field') return reply(res, 200, {})
    }
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>
      const out = (await handle(op, input, gen)) as Record<string, unknown>
      if (fault?.fault === 'bad-der' && op === 'Sign')
        out.Signature = Buffer.from([0x30, 0x03, 0x02, 0x01]).toString('base64')
      await until(due)
      reply(res, 200, out)
    } catch (err) {
      await until(due)
      if (err instanceof KmsError) return reply(res, err.status, { __type: err.type, message: err.message })
      reply(res, 500, { __type: 'KMSInternalException', message: String(err) })
    }
  }

  const server = createServer((req, res) => void serve(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    account,
    createKey(spec, o = {}) {
      const id = randomUUID()
      const pair =
        spec === 'ECC_NIST_P256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('rsa', { modulusLength: spec === 'RSA_2048' ? 2048 : 3072 })
      const jwk = pair.privateKey.export({ format: 'jwk' })
      keys.set(id, {
        id,
        arn: `arn:aws:kms:${region}:${account}:key/${id}`,
        spec,
        usage: o.usage ?? 'SIGN_VERIFY',
        state: o.state ?? 'Enabled',
        privateKey: pair.privateKey,
        spki: pair.publicKey.export({ format: 'der', type: 'spki' }),
        ...(jwk.d ? { d: jwk.d } : {}),
      })
      return id
    },
    alias(name, keyId) {
      aliases.set(name, resolve(keyId).id)
    },
    arn: (keyId) => resolve(keyId).arn,
    setState(keyId, state) {
      resolve(keyId).state = state
    },
    calls(op, keyId) {
      const arn = keyId === undefined ? undefined : resolve(keyId).arn
      return log.filter((c) => (op === undefined || c.op === op) && (arn === undefined || c.keyArn === arn))
        .length
    },
    inject(fault, o = {}) {
      faults.push({ fault, left: o.count ?? 1, op: o.op, ms: o.ms ?? 0 })
    },
    reset() {
      generation += 1
      faults = []
      log.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

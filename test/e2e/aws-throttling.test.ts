import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { KMSClient } from '@aws-sdk/client-kms'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { awsClientConfig } from '../../lib/aws/retry.js'
import { createKmsSigner } from '../../lib/keys/kms-signer.js'
import type { KeyRing } from '../../lib/keys/signer.js'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { captureStdout } from '../audit/capture-stdout.js'
import { type KmsFake, startKmsFake } from '../fakes/kms.js'
import { expectRejected, goodClaims, type Harness, startHarness } from './harness.js'

// A throttled AWS dependency, through the real SDK clients against loopback fakes: the caller gets
// 503 + Retry-After, the `throttles` metric counts it, and nothing is minted.
const CREDENTIALS = { accessKeyId: 'AKIDTESTTESSERA', secretAccessKey: 'test-secret' }

let kms: KmsFake
let h: Harness

beforeAll(async () => {
  kms = await startKmsFake()
  const keyId = kms.createKey('ECC_NIST_P256')
  const client = new KMSClient({
    ...awsClientConfig('kms'),
    endpoint: kms.endpoint,
    region: kms.region,
    credentials: CREDENTIALS,
  })
  const signer = await createKmsSigner(keyId, 'ES256', { client })
  const keys: KeyRing = { active: signer, publicKeys: [signer.publicJwk] }
  h = await startHarness({ brokerOptions: { keys } })
})
afterEach(() => kms.reset())
afterAll(async () => {
  await h?.close()
  await kms?.close()
})

/** Posts one exchange; a 5xx answer's one ERROR line (the error serializer's) is captured and checked. */
const exchange = async (harness: Harness): Promise<Response> => {
  const form = harness.exchangeForm(await harness.issuer.sign(goodClaims(harness)))
  let res: Response | undefined
  const logs = await captureStdout(async () => {
    res = await harness.post(form)
  })
  const status = (res as Response).status
  expect(logs.filter((l) => l.includes('"level":"ERROR"'))).toHaveLength(status >= 500 ? 1 : 0)
  return res as Response
}

describe('KMS throttling at /token', () => {
  it('a persistently throttled Sign is 503 with Retry-After, counted in throttles, nothing minted', async () => {
    const minted = h.minted()
    const throttles = h.metrics.total('throttles')
    kms.inject('throttle', { op: 'Sign', count: Number.POSITIVE_INFINITY })
    const res = await exchange(h)
    expect(res.headers.get('retry-after')).toBe('1')
    const description = await expectRejected(res, 503, 'temporarily_unavailable')
    expect(description).toMatch(/request quota/)
    expect(description).not.toMatch(/ThrottlingException|Rate exceeded/)
    expect(kms.calls('Sign')).toBe(3) // the SDK's attempts, each answered by the fault
    expect(h.metrics.total('throttles') - throttles).toBe(1)
    expect(h.metrics.total('kms_errors')).toBeGreaterThanOrEqual(1)
    expect(h.minted()).toBe(minted)
    const denied = h.audit.events.filter((e) => e.request_id === res.headers.get('x-request-id'))
    expect(denied).toMatchObject([{ event: 'token.denied', error: 'temporarily_unavailable' }])
  })

  it('one throttled Sign is retried by the SDK: 200, and no throttle is counted', async () => {
    const throttles = h.metrics.total('throttles')
    kms.inject('throttle', { op: 'Sign', count: 1 })
    const res = await exchange(h)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { access_token?: string }).access_token).toBeTypeOf('string')
    expect(h.metrics.total('throttles')).toBe(throttles)
  })

  it('a KMS fault that is not throttling is 503 but not a throttle', async () => {
    const throttles = h.metrics.total('throttles')
    const minted = h.minted()
    kms.inject('internal', { op: 'Sign', count: Number.POSITIVE_INFINITY })
    const res = await exchange(h)
    expect(res.headers.get('retry-after')).toBe('5')
    await expectRejected(res, 503, 'temporarily_unavailable')
    expect(h.metrics.total('throttles')).toBe(throttles)
    expect(h.minted()).toBe(minted)
  })
})

describe('DynamoDB throttling at /token', () => {
  let dynamo: Server
  let endpoint: string
  let requests = 0

  beforeAll(async () => {
    // Answers every DynamoDB call as AWS does when a table is over its throughput.
    dynamo = createServer((req, res) => {
      requests++
      req.resume()
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' })
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
            message: 'Rate of requests exceeds the allowed throughput.',
          }),
        )
      })
    })
    await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => dynamo.close(() => resolve())))

  it('a throttled replay write is 503 with Retry-After, counted in throttles and store_errors', async () => {
    const client = new DynamoDBClient({
      ...awsClientConfig('dynamodb'),
      endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    })
    const table = new DynamoDbTable({ table: 'tessera-test', client })
    const throttled = await startHarness({ brokerOptions: { table } })
    try {
      const res = await exchange(throttled)
      expect(res.headers.get('retry-after')).toBe('1')
      await expectRejected(res, 503, 'temporarily_unavailable')
      expect(requests).toBe(3) // the SDK's attempts, then the answer
      expect(throttled.metrics.total('throttles')).toBe(1)
      expect(throttled.metrics.total('store_errors')).toBe(1)
      expect(throttled.minted()).toBe(0)
    } finally {
      await throttled.close()
      client.destroy()
    }
  })
})

import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'
import { goodClaims, type Harness, startHarness } from './harness.js'

/** A real DynamoDB client (against dynalite) that counts the API operations it sends. */
function countingClient(endpoint: string) {
  const calls: string[] = []
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  })
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName))
      return next(args)
    },
    { step: 'initialize', name: 'countCalls' },
  )
  return { client, calls }
}

describe('DynamoDB cost per exchange (targets)', () => {
  let dynamo: TestDynamo
  beforeAll(async () => {
    dynamo = await startDynalite()
  })
  afterAll(() => dynamo.close())

  async function measure(replay: 'once' | 'allow'): Promise<{ h: Harness; calls: string[] }> {
    const { client, calls } = countingClient(dynamo.endpoint)
    const table = new DynamoDbTable({ table: dynamo.table, client })
    const h = await startHarness({ providerReplay: replay, brokerOptions: { table } })
    // Warm-up: JWKS fetched, revocation list loaded (then cached for 10 s).
    expect((await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))).status).toBe(200)
    calls.length = 0
    for (let i = 0; i < 5; i++) {
      expect((await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))).status).toBe(200)
    }
    return { h, calls }
  }

  it('replay protection on: exactly one conditional PutItem per exchange, no reads', async () => {
    const { h, calls } = await measure('once')
    expect(calls).toEqual(Array(5).fill('PutItemCommand'))
    await h.close()
  })

  it('replay protection off: no DynamoDB call at all', async () => {
    const { h, calls } = await measure('allow')
    expect(calls).toEqual([])
    await h.close()
  })
})

describe('JWKS cost (targets)', () => {
  it('100 concurrent cold exchanges fetch the discovery document and the JWKS once each', async () => {
    const h = await startHarness()
    const tokens = await Promise.all(Array.from({ length: 100 }, () => h.issuer.sign(goodClaims(h))))
    const statuses = await Promise.all(tokens.map(async (t) => (await h.post(h.exchangeForm(t))).status))
    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(h.issuer.hits('/.well-known/openid-configuration')).toBe(1)
    expect(h.issuer.hits('/jwks')).toBe(1)
    await h.close()
  })
})

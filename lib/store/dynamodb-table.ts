import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb'
import * as z from 'zod'
import { awsClientConfig, isThrottlingAwsError, withDeadline, withoutSdkLogging } from '../aws/retry.js'
import { DependencyThrottled, StoreUnavailable, TemporarilyUnavailable } from '../errors.js'
import type {
  AttrValue,
  IncrementOptions,
  MergeUpdate,
  StateItem,
  StateTable,
  WriteCondition,
} from './types.js'

/**
 * Item encoding (docs/design.md "DynamoDB table"): `pk` (S), `sk` (S), `expiresAt` (N, epoch seconds, the
 * table's TTL attribute) and every entry of `attrs` as a top-level attribute of type S, N or BOOL.
 * Those three names are therefore reserved and may not appear in `attrs`.
 */
const RESERVED = new Set(['pk', 'sk', 'expiresAt'])

/** Rounds of increment against expired leftovers and races; each round normally ends it. */
const MAX_INCREMENT_ATTEMPTS = 3

/** Upper bound on Query pages; a partition this large means a bug, not data. */
const MAX_QUERY_PAGES = 100

const NumberTextSchema = z
  .string()
  .regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/)
  .transform(Number)
  .pipe(z.number().finite())
const ScalarValueSchema = z.union([
  z.object({ S: z.string() }).transform((v) => v.S as AttrValue),
  z.object({ N: NumberTextSchema }).transform((v) => v.N as AttrValue),
  z.object({ BOOL: z.boolean() }).transform((v) => v.BOOL as AttrValue),
])
const RawItemSchema = z.record(z.string(), z.unknown()).pipe(
  z.looseObject({
    pk: z.object({ S: z.string() }),
    sk: z.object({ S: z.string() }),
    expiresAt: z.object({ N: NumberTextSchema }).optional(),
  }),
)

/** Options for {@link DynamoDbTable}; `now` is epoch milliseconds (tests inject a clock). */
export interface DynamoDbTableOptions {
  readonly table: string
  readonly region?: string | undefined
  readonly client?: DynamoDBClient | undefined
  readonly now?: (() => number) | undefined
}

/**
 * StateTable on one DynamoDB table, with exactly MemoryTable's semantics: conditional single-item
 * writes, expired-but-not-yet-TTL-deleted items count as absent, consistent reads. A failed
 * condition is `false`; every other failure (throttling, network, timeout, deadline) throws
 * StoreUnavailable. The endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` or the injected client.
 */
export class DynamoDbTable implements StateTable {
  readonly #table: string
  readonly #client: DynamoDBClient
  readonly #now: () => number

  constructor(opts: DynamoDbTableOptions) {
    this.#table = opts.table
    this.#now = opts.now ?? Date.now
    this.#client =
      opts.client ??
      withoutSdkLogging(
        new DynamoDBClient({
          ...awsClientConfig('dynamodb'),
          ...(opts.region === undefined ? {} : { region: opts.region }),
        }),
      )
  }

  async put(item: StateItem, condition?: WriteCondition): Promise<boolean> {
    // Encoding errors are programming errors (TypeError), not outages: raise them before the call.
    const Item = encodeItem(item)
    // Same rule and rounding as MemoryTable: an item already expired cannot win a condition.
    if (condition && !this.#live(item)) return false
    const cond = condition ? this.#condition(condition) : undefined
    return this.#conditional('PutItem', (abortSignal) =>
      this.#client.send(new PutItemCommand({ TableName: this.#table, Item, ...cond }), { abortSignal }),
    )
  }

  async get(pk: string, sk: string): Promise<StateItem | undefined> {
    const out = await this.#call('GetItem', (abortSignal) =>
      this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: encodeKey(pk, sk), ConsistentRead: true }),
        { abortSignal },
      ),
    )
    const item = out.Item === undefined ? undefined : decodeItem(out.Item)
    return item && this.#live(item) ? item : undefined
  }

  async delete(
    pk: string,
    sk: string,
    condition?: { readonly ifMatch: Readonly<Record<string, AttrValue>> },
  ): Promise<boolean> {
    const cond = condition ? this.#condition(condition) : undefined
    let old: StateItem | undefined
    const ok = await this.#conditional('DeleteItem', async (abortSignal) => {
      const out = await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: encodeKey(pk, sk),
          ReturnValues: 'ALL_OLD',
          ...cond,
        }),
        { abortSignal },
      )
      old = out.Attributes === undefined ? undefined : decodeItem(out.Attributes)
    })
    // Like MemoryTable: true only when a live item was actually removed.
    return ok && old !== undefined && this.#live(old)
  }

  async query(pk: string): Promise<StateItem[]> {
    const items: StateItem[] = []
    let start: Record<string, AttributeValue> | undefined
    for (let page = 0; page < MAX_QUERY_PAGES; page++) {
      const exclusive = start
      const out = await this.#call('Query', (abortSignal) =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: pk } },
            ConsistentRead: true,
            ...(exclusive ? { ExclusiveStartKey: exclusive } : {}),
          }),
          { abortSignal },
        ),
      )
      for (const raw of out.Items ?? []) {
        const item = decodeItem(raw)
        if (this.#live(item)) items.push(item)
      }
      start = out.LastEvaluatedKey
      if (!start) return items
    }
    throw new StoreUnavailable(`query of partition exceeded ${MAX_QUERY_PAGES} pages`)
  }

  /**
   * One UpdateItem (`ADD`) when the item is absent or live and below the limit. A refusal is either
   * the limit or an expired item TTL has not deleted yet; a consistent read tells which, and an
   * expired one is replaced (counting as absent, as in MemoryTable).
   */
  async increment(pk: string, sk: string, attr: string, opts: IncrementOptions): Promise<number | undefined> {
    if (RESERVED.has(attr)) throw new TypeError(`attribute name '${attr}' is reserved by the state table`)
    // The condition admits an absent item whatever the limit: a limit below 1 refuses here.
    if (opts.limit < 1) return undefined
    for (let attempt = 0; attempt < MAX_INCREMENT_ATTEMPTS; attempt++) {
      let value: unknown
      const added = await this.#conditional('UpdateItem', async (abortSignal) => {
        const out = await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: encodeKey(pk, sk),
            UpdateExpression: 'SET expiresAt = if_not_exists(expiresAt, :exp) ADD #c :one',
            ConditionExpression:
              'attribute_not_exists(pk) OR ((attribute_not_exists(#c) OR #c < :limit) AND (attribute_not_exists(expiresAt) OR expiresAt > :now))',
            ExpressionAttributeNames: { '#c': attr },
            ExpressionAttributeValues: {
              ':exp': encodeValue('expiresAt', opts.expiresAt),
              ':one': { N: '1' },
              ':limit': encodeValue('limit', opts.limit),
              ':now': { N: String(this.#nowSeconds()) },
            },
            ReturnValues: 'UPDATED_NEW',
          }),
          { abortSignal },
        )
        value = out.Attributes?.[attr]?.N
      })
      if (added) {
        const parsed = NumberTextSchema.safeParse(value)
        if (!parsed.success) throw new StoreUnavailable('DynamoDB UpdateItem returned no counter value')
        return parsed.data
      }
      const current = await this.get(pk, sk)
      if (current) {
        if (Number(current.attrs[attr] ?? 0) >= opts.limit) return undefined
        continue // changed meanwhile: try again
      }
      const fresh = { pk, sk, expiresAt: opts.expiresAt, attrs: { [attr]: 1 } }
      if (await this.put(fresh, { ifAbsent: true })) return 1
    }
    throw new StoreUnavailable(`DynamoDB counter ${pk}/${sk} is contended`)
  }

  /** One UpdateItem: `SET` for set/setOnce (if_not_exists), `ADD` for counters. */
  async merge(pk: string, sk: string, update: MergeUpdate): Promise<void> {
    const names: Record<string, string> = {}
    const values: Record<string, AttributeValue> = { ':exp': encodeValue('expiresAt', update.expiresAt) }
    const sets = ['expiresAt = :exp']
    const adds: string[] = []
    let i = 0
    const bind = (name: string, value: AttrValue) => {
      if (RESERVED.has(name)) throw new TypeError(`attribute name ${name} is reserved by the state table`)
      names[`#m${i}`] = name
      values[`:m${i}`] = encodeValue(name, value)
      return i++
    }
    for (const [name, v] of Object.entries(update.set ?? {})) {
      const n = bind(name, v)
      sets.push(`#m${n} = :m${n}`)
    }
    for (const [name, v] of Object.entries(update.setOnce ?? {})) {
      const n = bind(name, v)
      sets.push(`#m${n} = if_not_exists(#m${n}, :m${n})`)
    }
    for (const [name, v] of Object.entries(update.add ?? {})) {
      const n = bind(name, v)
      adds.push(`#m${n} :m${n}`)
    }
    values[':now'] = { N: String(this.#nowSeconds()) }
    const write = (abortSignal: AbortSignal) =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: encodeKey(pk, sk),
          UpdateExpression: `SET ${sets.join(', ')}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
          // An expired item TTL has not deleted yet must not lend its old counts: it is removed first.
          ConditionExpression: 'attribute_not_exists(expiresAt) OR expiresAt > :now',
          ...(i > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
        }),
        { abortSignal },
      )
    if (await this.#conditional('UpdateItem', write)) return
    // The item is expired but not yet deleted by TTL: replace it as if it were absent, unless another
    // writer revived it meanwhile (then merge into that one).
    const fresh: StateItem = {
      pk,
      sk,
      expiresAt: update.expiresAt,
      attrs: { ...update.setOnce, ...update.set, ...update.add },
    }
    if (await this.put(fresh, { ifAbsent: true })) return
    if (!(await this.#conditional('UpdateItem', write)))
      throw new StoreUnavailable(`DynamoDB item ${pk}/${sk} could not be merged`)
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000)
  }

  #live(item: StateItem): boolean {
    return item.expiresAt === undefined || item.expiresAt > this.#nowSeconds()
  }

  /** Builds the ConditionExpression; `:now` makes an expired item count as absent, as in MemoryTable. */
  #condition(condition: WriteCondition) {
    const now: AttributeValue = { N: String(this.#nowSeconds()) }
    if ('ifAbsent' in condition) {
      return {
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
        ExpressionAttributeValues: { ':now': now },
      }
    }
    const names: Record<string, string> = {}
    const values: Record<string, AttributeValue> = { ':now': now }
    const clauses = ['attribute_exists(pk)', '(attribute_not_exists(expiresAt) OR expiresAt > :now)']
    Object.entries(condition.ifMatch).forEach(([name, value], i) => {
      names[`#a${i}`] = name
      values[`:v${i}`] = encodeValue(name, value)
      clauses.push(`#a${i} = :v${i}`)
    })
    return {
      ConditionExpression: clauses.join(' AND '),
      ExpressionAttributeValues: values,
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    }
  }

  /** Runs a conditional write: false on ConditionalCheckFailed, StoreUnavailable on anything else. */
  async #conditional(op: string, work: (signal: AbortSignal) => Promise<unknown>): Promise<boolean> {
    try {
      await withDeadline(work)
      return true
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false
      throw unavailable(op, err)
    }
  }

  async #call<T>(op: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(work)
    } catch (err) {
      throw unavailable(op, err)
    }
  }
}

/** The outage a failed call is, decided here at the store: a throttle, or the store unavailable. */
function unavailable(op: string, err: unknown): TemporarilyUnavailable {
  if (err instanceof TemporarilyUnavailable) return err
  const name = err instanceof Error ? err.name : typeof err
  if (isThrottlingAwsError(err)) {
    return new DependencyThrottled('store', 'state store is over its request quota; retry later').withDetail(
      `DynamoDB ${op} throttled (${name})`,
    )
  }
  return new StoreUnavailable(`DynamoDB ${op} failed (${name})`, { cause: err })
}

function encodeKey(pk: string, sk: string): Record<string, AttributeValue> {
  return { pk: { S: pk }, sk: { S: sk } }
}

function encodeValue(name: string, value: AttrValue): AttributeValue {
  if (typeof value === 'string') return { S: value }
  if (typeof value === 'boolean') return { BOOL: value }
  if (!Number.isFinite(value)) throw new TypeError(`attribute ${name} is not a finite number`)
  return { N: String(value) }
}

function encodeItem(item: StateItem): Record<string, AttributeValue> {
  const out = encodeKey(item.pk, item.sk)
  if (item.expiresAt !== undefined) out.expiresAt = encodeValue('expiresAt', item.expiresAt)
  for (const [name, value] of Object.entries(item.attrs)) {
    if (RESERVED.has(name)) throw new TypeError(`attribute name '${name}' is reserved by the state table`)
    out[name] = encodeValue(name, value)
  }
  return out
}

/** Validates an item read from DynamoDB; anything we did not write ourselves is a store fault. */
function decodeItem(raw: Record<string, AttributeValue>): StateItem {
  const parsed = RawItemSchema.safeParse(raw)
  if (!parsed.success) throw new StoreUnavailable('DynamoDB returned an item without valid pk/sk/expiresAt')
  const attrs: Record<string, AttrValue> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (RESERVED.has(name)) continue
    const v = ScalarValueSchema.safeParse(value)
    if (!v.success) throw new StoreUnavailable(`DynamoDB item attribute '${name}' has an unsupported type`)
    attrs[name] = v.data
  }
  const { pk, sk, expiresAt } = parsed.data
  return { pk: pk.S, sk: sk.S, expiresAt: expiresAt?.N, attrs }
}

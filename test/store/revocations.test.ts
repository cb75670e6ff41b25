import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidRequest, StoreUnavailable } from '../../lib/errors.js'
import { DynamoDbTable } from '../../lib/store/dynamodb-table.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { MAX_REVOCATIONS, RevocationList } from '../../lib/store/revocations.js'
import type {
  AttrValue,
  IncrementOptions,
  MergeUpdate,
  StateItem,
  StateTable,
  WriteCondition,
} from '../../lib/store/types.js'
import { startDynalite, type TestDynamo } from '../helpers/dynalite.js'

const T0 = 1_700_000_000_000
const S0 = T0 / 1000

/** Delegates to a MemoryTable, counts reads, and can simulate an outage (a dependency double, not the code under test). */
class ObservedTable implements StateTable {
  readonly inner: MemoryTable
  queries = 0
  down = false
  constructor(readonly clock: { ms: number }) {
    this.inner = new MemoryTable(() => Math.floor(clock.ms / 1000))
  }
  #check() {
    if (this.down) throw new StoreUnavailable('down')
  }
  async put(item: StateItem, c?: WriteCondition) {
    this.#check()
    return this.inner.put(item, c)
  }
  async get(pk: string, sk: string) {
    this.#check()
    return this.inner.get(pk, sk)
  }
  async delete(pk: string, sk: string, c?: { ifMatch: Readonly<Record<string, AttrValue>> }) {
    this.#check()
    return this.inner.delete(pk, sk, c)
  }
  async query(pk: string) {
    this.queries++
    this.#check()
    return this.inner.query(pk)
  }
  async increment(pk: string, sk: string, attr: string, opts: IncrementOptions) {
    this.#check()
    return this.inner.increment(pk, sk, attr, opts)
  }
  async merge(pk: string, sk: string, update: MergeUpdate) {
    this.#check()
    return this.inner.merge(pk, sk, update)
  }
}

function setup() {
  const clock = { ms: T0 }
  const table = new ObservedTable(clock)
  const list = new RevocationList(table, { now: () => clock.ms })
  return { clock, table, list }
}

const q = (over: Partial<{ provider: string; sub: string; policy: string }> = {}) => ({
  provider: 'gha',
  sub: 'repo:acme/app',
  policy: 'deploy',
  ...over,
})
const tok = (
  over: Partial<{ jti: string; provider: string; sub: string; policy: string; iat: number }> = {},
) => ({
  jti: 'j1',
  iat: S0 - 10,
  ...q(),
  ...over,
})

describe('RevocationList: tokens', () => {
  it('revokes one jti; other tokens stay valid', async () => {
    const { list } = setup()
    await list.revoke({ jti: 'j1', exp: S0 + 600 }, 'admin')
    expect(await list.isTokenRevoked(tok())).toBe(true)
    expect(await list.isTokenRevoked(tok({ jti: 'j2' }))).toBe(false)
    expect(await list.blocksIssuance(q())).toBe(false)
  })

  it('a jti entry expires with the token (expiresAt = exp)', async () => {
    const { list, table } = setup()
    await list.revoke({ jti: 'j1', exp: S0 + 600 }, 'admin')
    expect((await table.inner.get('revocation', 'jti#j1'))?.expiresAt).toBe(S0 + 600)
  })

  it('lifting a jti revocation restores the token', async () => {
    const { list } = setup()
    await list.revoke({ jti: 'j1', exp: S0 + 600 }, 'admin')
    await list.lift({ jti: 'j1', exp: S0 + 600 }, 'admin')
    expect(await list.isTokenRevoked(tok())).toBe(false)
  })
})

describe.each([
  [
    'subject',
    { provider: 'gha', sub: 'repo:acme/app' },
    q({ policy: 'other' }),
    q({ sub: 'repo:acme/other' }),
  ],
  ['policy', { policy: 'deploy' }, q({ sub: 'anyone' }), q({ policy: 'other' })],
] as const)('RevocationList: %s', (_kind, target, hit, miss) => {
  it('blocks issuance for the target only', async () => {
    const { list } = setup()
    await list.revoke(target, 'admin')
    expect(await list.blocksIssuance(hit)).toBe(true)
    expect(await list.blocksIssuance(miss)).toBe(false)
  })

  it('revokes tokens issued before, and while active also any issued after (stale caches elsewhere)', async () => {
    const { list } = setup()
    await list.revoke(target, 'admin')
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 - 100 }))).toBe(true)
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 + 5 }))).toBe(true)
    expect(await list.isTokenRevoked(tok({ ...miss, iat: S0 - 100 }))).toBe(false)
  })

  it('lift: issuance allowed again; tokens issued up to the lift stay revoked, later ones are valid', async () => {
    const { list, clock, table } = setup()
    await list.revoke(target, 'admin')
    clock.ms += 60_000
    expect(await list.lift(target, 'admin2')).toBe('lifted')
    expect(await list.blocksIssuance(hit)).toBe(false)
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 }))).toBe(true)
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 + 60 }))).toBe(true)
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 + 61 }))).toBe(false)
    const [entry] = await list.list()
    expect(entry).toMatchObject({ revokedAt: S0, revokedBy: 'admin', liftedAt: S0 + 60, liftedBy: 'admin2' })
    // Kept until every token issued before the lift has expired.
    const raw = await table.inner.query('revocation')
    expect(raw[0]?.expiresAt).toBe(S0 + 60 + 12 * 3600 + 300)
  })

  it('a token another instance issued from its cached list after the revocation stays revoked after the lift', async () => {
    const { list, clock } = setup()
    await list.revoke(target, 'admin')
    // Issued 6 s later by an instance whose 10 s cache did not have the revocation yet.
    const late = tok({ ...hit, iat: S0 + 6 })
    clock.ms += 3_600_000
    await list.lift(target, 'admin')
    expect(await list.isTokenRevoked(late)).toBe(true)
  })

  it('a second lift changes nothing; a re-revoke blocks again with a later revokedAt', async () => {
    const { list, clock } = setup()
    await list.revoke(target, 'admin')
    await list.lift(target, 'admin')
    clock.ms += 5_000
    await list.lift(target, 'other')
    expect((await list.list())[0]).toMatchObject({ liftedBy: 'admin', liftedAt: S0 })
    await list.revoke(target, 'admin')
    expect(await list.blocksIssuance(hit)).toBe(true)
    expect((await list.list())[0]).toMatchObject({ revokedAt: S0 + 5 })
    expect((await list.list())[0]?.liftedAt).toBeUndefined()
  })

  it('lifting what was never revoked is a no-op', async () => {
    const { list } = setup()
    await list.lift(target, 'admin')
    expect(await list.list()).toEqual([])
  })

  it('a lift long after the revocation keeps the entry for another longest token lifetime', async () => {
    const { list, clock, table } = setup()
    await list.revoke(target, 'admin')
    clock.ms += 13 * 3600 * 1000
    await list.lift(target, 'admin')
    const raw = await table.inner.query('revocation')
    expect(raw[0]?.expiresAt).toBe(S0 + 13 * 3600 + 12 * 3600 + 300)
    expect(await list.isTokenRevoked(tok({ ...hit, iat: S0 + 13 * 3600 - 1 }))).toBe(true)
  })

  it("a re-revoke landing between the lift's read and write (same second) wins: superseded, still blocked", async () => {
    const { list, table } = setup()
    await list.revoke(target, 'first')
    const get = table.inner.get.bind(table.inner)
    table.inner.get = async (pk, sk) => {
      const item = await get(pk, sk)
      await new RevocationList(table.inner, { now: () => T0 }).revoke(target, 'second')
      return item
    }
    expect(await list.lift(target, 'admin')).toBe('superseded')
    expect(await list.blocksIssuance(hit)).toBe(true)
    expect((await list.list())[0]).toMatchObject({ revokedBy: 'second' })
    expect((await list.list())[0]?.liftedAt).toBeUndefined()
  })
})

describe('RevocationList: cache', () => {
  it('another instance sees a revocation within 10 s, with no store read per check meanwhile', async () => {
    const { table, clock, list: writer } = setup()
    const reader = new RevocationList(table, { now: () => clock.ms })
    expect(await reader.blocksIssuance(q())).toBe(false)
    await writer.revoke({ policy: 'deploy' }, 'admin')
    const before = table.queries
    clock.ms += 9_999
    for (let i = 0; i < 100; i++) expect(await reader.blocksIssuance(q())).toBe(false)
    expect(table.queries).toBe(before)
    clock.ms += 1
    expect(await reader.blocksIssuance(q())).toBe(true)
    expect(table.queries).toBe(before + 1)
  })

  it('the instance that revokes sees it at once', async () => {
    const { list } = setup()
    expect(await list.blocksIssuance(q())).toBe(false)
    await list.revoke({ policy: 'deploy' }, 'admin')
    expect(await list.blocksIssuance(q())).toBe(true)
  })

  it('revocations are applied to the cached list: 500 of them cost one Query in all, each effective at once', async () => {
    const { list, table } = setup()
    for (let i = 0; i < 500; i++) {
      await list.revoke({ provider: 'gha', sub: `s${i}` }, 'admin')
      expect(await list.blocksIssuance(q({ sub: `s${i}` }))).toBe(true)
    }
    expect(await list.blocksIssuance(q({ sub: 'other' }))).toBe(false)
    expect(table.queries).toBe(1)
    expect(await list.list()).toHaveLength(500)
  })

  it('a refresh in flight while this instance revokes cannot drop the new entry', async () => {
    const { list, clock } = setup()
    await list.blocksIssuance(q())
    clock.ms += 10_000
    const racing = list.blocksIssuance(q())
    await list.revoke({ policy: 'deploy' }, 'admin')
    await racing
    expect(await list.blocksIssuance(q())).toBe(true)
  })

  it('concurrent cold checks share one Query', async () => {
    const { list, table } = setup()
    await Promise.all(Array.from({ length: 20 }, () => list.blocksIssuance(q())))
    expect(table.queries).toBe(1)
  })

  it('store down: the cached list serves while younger than 10 s (the propagation bound), then fails closed', async () => {
    const { table, clock } = setup()
    // A 2 s cache: refreshes fail after 2 s, the stale list still serves up to 10 s.
    const list = new RevocationList(table, { now: () => clock.ms, cacheTtlMs: 2_000 })
    await list.revoke({ policy: 'deploy' }, 'admin')
    expect(await list.blocksIssuance(q())).toBe(true)
    table.down = true
    clock.ms += 9_999
    expect(await list.blocksIssuance(q())).toBe(true)
    expect(await list.blocksIssuance(q({ policy: 'x' }))).toBe(false)
    clock.ms += 1
    await expect(list.blocksIssuance(q({ policy: 'x' }))).rejects.toBeInstanceOf(StoreUnavailable)
    await expect(list.isTokenRevoked(tok())).rejects.toBeInstanceOf(StoreUnavailable)
    table.down = false
    expect(await list.blocksIssuance(q({ policy: 'x' }))).toBe(false)
  })

  it("store down after the clock stepped back: the cached list's age is unknown, so it fails closed", async () => {
    const { table, clock } = setup()
    const list = new RevocationList(table, { now: () => clock.ms, cacheTtlMs: 2_000 })
    expect(await list.blocksIssuance(q())).toBe(false)
    table.down = true
    clock.ms -= 1_000
    await expect(list.blocksIssuance(q())).rejects.toBeInstanceOf(StoreUnavailable)
  })

  it('store down with nothing cached fails closed', async () => {
    const { list, table } = setup()
    table.down = true
    await expect(list.blocksIssuance(q())).rejects.toBeInstanceOf(StoreUnavailable)
    await expect(list.revoke({ policy: 'p' }, 'a')).rejects.toBeInstanceOf(StoreUnavailable)
  })

  it('a malformed entry fails closed instead of being ignored', async () => {
    const { list, table } = setup()
    await table.inner.put({ pk: 'revocation', sk: 'policy#deploy', attrs: { kind: 'policy' } })
    await expect(list.blocksIssuance(q())).rejects.toBeInstanceOf(StoreUnavailable)
  })
})

describe('RevocationList on dynalite', () => {
  let dynamo: TestDynamo
  beforeAll(async () => {
    dynamo = await startDynalite()
  })
  afterAll(async () => {
    await dynamo.close()
  })

  it('revokes and lifts jti/subject/policy across two instances; one Query reads the list', async () => {
    const clock = { ms: T0 }
    const now = () => clock.ms
    const a = new RevocationList(new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now }), {
      now,
    })
    const b = new RevocationList(new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now }), {
      now,
    })
    await a.revoke({ jti: 'dj', exp: S0 + 600 }, 'admin')
    await a.revoke({ provider: 'gha', sub: 'repo:acme/app' }, 'admin')
    await a.revoke({ policy: 'deploy' }, 'admin')
    expect(await b.isTokenRevoked(tok({ jti: 'dj', provider: 'x', sub: 'y', policy: 'z' }))).toBe(true)
    expect(await b.blocksIssuance(q({ policy: 'other' }))).toBe(true)
    expect(await b.blocksIssuance(q({ sub: 'someone' }))).toBe(true)
    expect(await b.blocksIssuance(q({ sub: 'someone', policy: 'other' }))).toBe(false)
    expect((await b.list()).map((r) => r.kind).sort()).toEqual(['jti', 'policy', 'subject'])
    await a.lift({ policy: 'deploy' }, 'admin')
    await a.lift({ provider: 'gha', sub: 'repo:acme/app' }, 'admin')
    clock.ms += 10_000
    expect(await b.blocksIssuance(q())).toBe(false)
  })

  it('outage: fails closed once the list is 10 s old; resumes after restart', async () => {
    const clock = { ms: T0 }
    const now = () => clock.ms
    const list = new RevocationList(new DynamoDbTable({ table: dynamo.table, client: dynamo.client, now }), {
      now,
    })
    await list.revoke({ policy: 'outage' }, 'admin')
    expect(await list.blocksIssuance(q({ policy: 'outage' }))).toBe(true)
    await dynamo.stop()
    try {
      clock.ms += 5_000
      expect(await list.blocksIssuance(q({ policy: 'outage' }))).toBe(true)
      clock.ms += 5_000
      await expect(list.blocksIssuance(q({ policy: 'outage' }))).rejects.toBeInstanceOf(StoreUnavailable)
    } finally {
      await dynamo.restart()
    }
    expect(await list.blocksIssuance(q({ policy: 'outage' }))).toBe(true)
  })
})

describe('RevocationList: bounded', () => {
  it('the bound defaults to 10,000 entries', () => {
    expect(MAX_REVOCATIONS).toBe(10_000)
  })

  it('refuses a new entry beyond the bound with invalid_request; re-revoking an entry it holds is fine', async () => {
    const clock = { ms: T0 }
    const table = new ObservedTable(clock)
    const list = new RevocationList(table, { now: () => clock.ms, maxEntries: 3 })
    await list.revoke({ policy: 'a' }, 'admin')
    await list.revoke({ provider: 'gha', sub: 'x' }, 'admin')
    await list.revoke({ jti: 'j1', exp: S0 + 60 }, 'admin')
    const err = await list.revoke({ policy: 'b' }, 'admin').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRequest)
    expect((err as InvalidRequest).status).toBe(400)
    expect(await list.blocksIssuance(q({ policy: 'b' }))).toBe(false)
    await expect(list.revoke({ policy: 'a' }, 'admin')).resolves.toBeUndefined()
    await expect(list.revoke({ jti: 'j2', exp: S0 + 60 }, 'admin')).rejects.toBeInstanceOf(InvalidRequest)
    // The token entry leaves with its token: after the next reload there is room again.
    clock.ms += 61_000
    await expect(list.revoke({ policy: 'b' }, 'admin')).resolves.toBeUndefined()
    expect(await list.blocksIssuance(q({ policy: 'b' }))).toBe(true)
  })

  it('a store that cannot be read refuses the revocation (503), rather than writing blind past the bound', async () => {
    const clock = { ms: T0 }
    const table = new ObservedTable(clock)
    const list = new RevocationList(table, { now: () => clock.ms })
    table.down = true
    await expect(list.revoke({ policy: 'a' }, 'admin')).rejects.toBeInstanceOf(StoreUnavailable)
  })
})

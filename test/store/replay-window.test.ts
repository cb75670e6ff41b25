import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkJwtClaims } from '../../lib/assertion/jwt-claims.js'
import type { VerifiedSubject } from '../../lib/assertion/types.js'
import { BrokerError } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { consumeOnce, REPLAY_MARGIN_SECONDS, replayExpiresAt } from '../../lib/store/replay.js'
import type { StateTable } from '../../lib/store/types.js'
import { input, provider, signAs, T, verifierFor } from '../assertion/aws-iam-fixture.js'
import { BROKER, type OidcFixture, setupOidc } from '../assertion/oidc-fixture.js'
import { type FakeSts, LAMBDA_ROLE, startFakeSts } from '../fakes/sts.js'
import { storeKinds } from '../instance/stores.js'

/**
 * One request of a replay stream: the verifier reads the clock at `verifyAt`, the store compares
 * expiry with its own clock at `writeAt` (later: JWKS/STS round trips and the policy steps run in
 * between). Returns whether the request would mint.
 */
type Request = { readonly verifyAt: number; readonly writeAt: number }

const MARGIN_MS = REPLAY_MARGIN_SECONDS * 1000
const kinds = storeKinds()

/** Re-sends around `edgeMs` (first instant the token is refused): before, at and after it, each written late. */
function edgeStream(edgeMs: number): Request[] {
  const requests: Request[] = [{ verifyAt: edgeMs - 120_000, writeAt: edgeMs - 120_000 }]
  for (const before of [3000, 1001, 1000, 999, 500, 1, 0, -1, -999, -1000]) {
    for (const delay of [0, 1, 999, 1000, 1001, 30_000, MARGIN_MS - 1001, MARGIN_MS - 1]) {
      requests.push({ verifyAt: edgeMs - before, writeAt: edgeMs - before + delay })
    }
  }
  return requests
}

/** Runs the stream; `verify` reads the verification clock, `store` is the clock the table reads. */
async function runStream(
  requests: readonly Request[],
  table: StateTable,
  storeClock: { ms: number },
  verify: (at: number) => Promise<VerifiedSubject>,
  expiresAt: (subject: VerifiedSubject) => number,
): Promise<{ minted: number; accepted: number[] }> {
  let minted = 0
  const accepted: number[] = []
  for (const r of requests) {
    let subject: VerifiedSubject
    try {
      subject = await verify(r.verifyAt)
    } catch (err) {
      expect(err).toBeInstanceOf(BrokerError)
      continue
    }
    accepted.push(r.verifyAt)
    const replay = subject.replay
    if (!replay) throw new Error('the provider must demand single use')
    storeClock.ms = r.writeAt
    if (await consumeOnce(table, replay.key, expiresAt(subject))) minted++
  }
  return { minted, accepted }
}

describe.each(kinds)('replay window on the $name store: oidc replay: once', (kind) => {
  let fx: OidcFixture | undefined
  afterEach(async () => {
    await fx?.close()
    fx = undefined
  })

  async function oidcStream(requests: (edgeMs: number) => Request[]) {
    fx = await setupOidc({ replay: 'once', clockTolerance: '30s' })
    const exp = Math.floor(Date.now() / 1000) + 120
    const token = await fx.issuer.sign({ sub: 'repo:acme/app', aud: BROKER, exp, jti: randomUUID() })
    const clock = fx.clock
    const storeClock = { ms: 0 }
    const table = kind.open(() => storeClock.ms)
    const edgeMs = (exp + 30) * 1000
    const verify = (at: number) => {
      clock.now = at
      return (fx as OidcFixture).verify(token)
    }
    const expiresAt = (s: VerifiedSubject) => s.replay?.expiresAt ?? 0
    return { edgeMs, ...(await runStream(requests(edgeMs), table, storeClock, verify, expiresAt)) }
  }

  it('mints once from a stream verified on either side of the edge and written after it', async () => {
    const { edgeMs, minted, accepted } = await oidcStream(edgeStream)
    // The stream really straddles the edge: accepted up to its last millisecond, refused from it.
    expect(accepted).toContain(edgeMs - 1)
    expect(accepted.every((at) => at < edgeMs)).toBe(true)
    expect(minted).toBe(1)
  })

  it('mints a first use verified at the last accepted millisecond and written just under the margin later, then never again', async () => {
    const late = (edgeMs: number) => [
      { verifyAt: edgeMs - 1, writeAt: edgeMs - 1 + MARGIN_MS - 1 },
      ...edgeStream(edgeMs).slice(1),
    ]
    const { minted, accepted } = await oidcStream(late)
    expect(accepted.length).toBeGreaterThan(1)
    expect(minted).toBe(1)
  })
})

describe.each(kinds)('replay window on the $name store: aws-iam replay: once', (kind) => {
  let fake: FakeSts
  beforeAll(async () => {
    fake = await startFakeSts()
  })
  afterAll(() => fake.close())

  it('mints once from a stream around the end of the X-Amz-Date window', async () => {
    // Signed 4 minutes before T: still fresh for the fake STS (real time), while the verifier's
    // clock is driven around signedAt + 5 min, the last accepted instant.
    const signedAt = T - 240_000
    const token = await signAs(LAMBDA_ROLE, { at: signedAt })
    const edgeMs = signedAt + 300_001
    const storeClock = { ms: 0 }
    const table = kind.open(() => storeClock.ms)
    const verify = (at: number) =>
      verifierFor(fake, [provider({ clockTolerance: '0s' })], at).verify({ ...input(token), now: at })
    const requests = edgeStream(edgeMs).filter((r) => r.verifyAt > signedAt - 300_000)
    const { minted, accepted } = await runStream(
      requests,
      table,
      storeClock,
      verify,
      (s) => s.replay?.expiresAt ?? 0,
    )
    expect(accepted).toContain(edgeMs - 1)
    expect(accepted.every((at) => at < edgeMs)).toBe(true)
    expect(minted).toBe(1)
  })
})

describe.each(kinds)('the $name store refuses a consume that comes after the record would expire', (kind) => {
  it('a request slower than the margin fails closed, and nothing is remembered that could be re-won', async () => {
    const storeClock = { ms: 1_000_000_000_000 }
    const table = kind.open(() => storeClock.ms)
    const key = `slow:${randomUUID()}`
    const expiresAt = replayExpiresAt(storeClock.ms)
    storeClock.ms = expiresAt * 1000
    expect(await consumeOnce(table, key, expiresAt)).toBe(false)
    storeClock.ms = expiresAt * 1000 + 5000
    expect(await consumeOnce(table, key, expiresAt)).toBe(false)
    storeClock.ms = expiresAt * 1000 - 1
    expect(await consumeOnce(table, key, expiresAt)).toBe(true)
    expect(await consumeOnce(table, key, expiresAt)).toBe(false)
  })

  it('an expired item never wins an ifAbsent or ifMatch write', async () => {
    const table = kind.open(() => 2_000_000)
    const pk = `cond:${randomUUID()}`
    expect(await table.put({ pk, sk: '-', expiresAt: 2000, attrs: {} }, { ifAbsent: true })).toBe(false)
    expect(await table.get(pk, '-')).toBeUndefined()
    expect(await table.put({ pk, sk: '-', expiresAt: 2001, attrs: { v: 1 } }, { ifAbsent: true })).toBe(true)
    expect(await table.put({ pk, sk: '-', expiresAt: 1999, attrs: { v: 2 } }, { ifMatch: { v: 1 } })).toBe(
      false,
    )
    expect(await table.get(pk, '-')).toMatchObject({ attrs: { v: 1 } })
  })
})

describe('replay window: property over the JWT acceptance rule and the memory store', () => {
  const TOLERANCE = 30
  const EXP = 1_900_000_000

  it('whatever the clocks of a re-send stream, a token mints at most once; a prompt first request always mints', () => {
    const request = fc.record({
      verifyAt: fc.integer({ min: (EXP - 400) * 1000, max: (EXP + TOLERANCE + 5) * 1000 }),
      delay: fc.integer({ min: 0, max: 3 * MARGIN_MS }),
    })
    fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 40 }), async (stream) => {
        const storeClock = { ms: 0 }
        const table = new MemoryTable(() => Math.floor(storeClock.ms / 1000))
        let minted = 0
        let firstAccepted: { delay: number; minted: boolean } | undefined
        for (const r of stream) {
          let checked: ReturnType<typeof checkJwtClaims>
          try {
            checked = checkJwtClaims(
              { sub: 's', aud: 'a', exp: EXP, jti: 'j' },
              { now: r.verifyAt, clockTolerance: TOLERANCE, audiences: ['a'] },
            )
          } catch {
            continue
          }
          storeClock.ms = r.verifyAt + r.delay
          const won = await consumeOnce(table, 'j', replayExpiresAt((checked.exp + TOLERANCE) * 1000))
          if (won) minted++
          firstAccepted ??= { delay: r.delay, minted: won }
        }
        expect(minted).toBeLessThanOrEqual(1)
        if (firstAccepted && firstAccepted.delay < MARGIN_MS) expect(firstAccepted.minted).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('the record is live for every store reading below the last accepted instant plus the margin', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 0, max: MARGIN_MS - 1 }),
        (acceptedBefore, delay) => {
          const expiresAt = replayExpiresAt(acceptedBefore)
          // The last accepted clock reading is acceptedBefore - 1; the store compares floor(seconds).
          expect(Math.floor((acceptedBefore - 1 + delay) / 1000)).toBeLessThan(expiresAt)
        },
      ),
    )
  })
})

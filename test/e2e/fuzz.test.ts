import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, JWT_TYPE, startHarness, TOKEN_EXCHANGE } from './harness.js'

const b64u = (s: string) => Buffer.from(s).toString('base64url')

describe('fuzzing the token endpoint: never a 5xx, never a 200, always a JSON error', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  async function check(body: string, contentType = 'application/x-www-form-urlencoded') {
    const res = await fetch(`${h.url}/token`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    })
    const text = await res.text()
    expect(res.status, text).toBeGreaterThanOrEqual(400)
    expect(res.status, text).toBeLessThan(500)
    const json = JSON.parse(text)
    expect(typeof json.error).toBe('string')
    expect(json.access_token).toBeUndefined()
  }

  const formChar = fc.constantFrom(
    ...'abc=&%+;:/.-_ \u00e9\u0000\n~!*()'.split(''),
    '%ZZ',
    '%C3',
    '%00',
    '%E2%82',
  )
  const formName = fc.constantFrom(
    'grant_type',
    'subject_token',
    'subject_token_type',
    'audience',
    'resource',
    'scope',
    'actor_token',
    'actor_token_type',
    'requested_token_type',
    'x',
  )

  it('random form bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(formName, fc.string({ unit: formChar, maxLength: 40 })), { maxLength: 8 }),
        async (pairs) => {
          await check(pairs.map(([k, v]) => `${k}=${v}`).join('&'))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('random raw bodies and content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200 }),
        fc.constantFrom(
          'application/x-www-form-urlencoded',
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded; charset=latin1',
        ),
        async (body, type) => {
          await check(body, type)
        },
      ),
      { numRuns: 100 },
    )
  })

  const segment = fc.oneof(
    fc.base64String({ maxLength: 60 }).map((s) => s.replace(/[+/=]/g, 'A')),
    fc.jsonValue({ maxDepth: 3 }).map((v) => b64u(JSON.stringify(v))),
    fc
      .record({
        alg: fc.constantFrom('none', 'RS256', 'ES256', 'HS256', 'PS256', 'EdDSA', ''),
        kid: fc.string({ maxLength: 10 }),
      })
      .map((v) => b64u(JSON.stringify(v))),
    fc
      .record({
        iss: fc.constantFrom('x', 'http://127.0.0.1:1'),
        sub: fc.jsonValue(),
        exp: fc.oneof(fc.integer(), fc.double(), fc.string()),
      })
      .map((v) => b64u(JSON.stringify(v))),
  )

  it('random JWT-shaped subject tokens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 5 }), async (segments) => {
        const form = new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: segments.join('.'),
          subject_token_type: JWT_TYPE,
          audience: 'https://api.example.com',
        })
        await check(form.toString())
      }),
      { numRuns: 200 },
    )
  })

  it('issued nothing at all', () => {
    expect(h.minted()).toBe(0)
  })
})

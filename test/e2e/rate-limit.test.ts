import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectRejected, goodClaims, type Harness, startHarness } from './harness.js'

// The per-identity rate limit over HTTP: 429, Retry-After, the OAuth error body, nothing minted.
let h: Harness
beforeAll(async () => {
  h = await startHarness({
    policies: `
policies:
  - name: deploy-app
    provider: ci
    rateLimit: 2/h
    match: { sub: repo:acme/app:ref:refs/heads/main, repository_owner_id: "123456" }
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
`,
  })
})
afterAll(() => h.close())

describe('rateLimit over HTTP', () => {
  it('answers 429 invalid_request with Retry-After and a description naming the limit', async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
      expect(ok.status).toBe(200)
    }
    const minted = h.minted()
    const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    const retryAfter = Number(res.headers.get('retry-after'))
    const description = await expectRejected(res, 429, 'invalid_request')
    expect(description).toContain('rate limit of 2 per hour for this policy and subject exceeded')
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    expect(h.minted()).toBe(minted)
    expect(h.audit.events.at(-1)).toMatchObject({ event: 'token.rate_limited', level: 'WARN' })
  })

  it('the subject stays limited; a subject the policy denies gets invalid_target, not 429', async () => {
    await expectRejected(
      await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h)))),
      429,
      'invalid_request',
    )
    const stranger = goodClaims(h, { sub: 'repo:acme/other:ref:refs/heads/main' })
    await expectRejected(await h.post(h.exchangeForm(await h.issuer.sign(stranger))), 400, 'invalid_target')
  })
})

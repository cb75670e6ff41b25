import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../lib/http/form.js'
import { type Harness, JWT_TYPE, startHarness, TOKEN_EXCHANGE } from './harness.js'

describe('abuse: oversized parameters against tessera serve', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  /** A form body of exactly `size` bytes whose last parameter is `name`, filled with `eyJ`. */
  function hostileBody(name: string, size: number): string {
    const head = `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=eyJ.a.b&${name}=`
    return head + 'eyJ'.repeat(Math.ceil((size - head.length) / 3)).slice(0, size - head.length)
  }

  const post = (body: string) =>
    fetch(`${h.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    })

  it.each(['subject_token_type', 'actor_token_type', 'requested_token_type', 'scope'])(
    'a 64 KiB %s of eyJ is a 400 invalid_request, audited without the value',
    async (name) => {
      const before = h.audit.events.length
      const body = hostileBody(name, MAX_BODY_BYTES)
      expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES)
      const res = await post(body)
      expect(res.status).toBe(400)
      const json = (await res.json()) as { error: string; error_description: string }
      expect(json.error).toBe('invalid_request')
      expect(json.error_description).toMatch(new RegExp(`^${name} exceeds \\d+ characters \\(request`))
      const events = h.audit.events.slice(before)
      expect(events).toHaveLength(1)
      expect(JSON.stringify(events).length).toBeLessThan(4096)
      expect(h.minted()).toBe(0)
    },
  )

  it('a 64 KiB audience is refused too, and a body one byte over the limit is a 413', async () => {
    expect((await post(hostileBody('audience', MAX_BODY_BYTES))).status).toBe(400)
    expect((await post(hostileBody('subject_token_type', MAX_BODY_BYTES + 1))).status).toBe(413)
  })

  it('the server still answers an ordinary request after the hostile ones', async () => {
    const res = await fetch(`${h.url}/healthz`)
    expect(res.status).toBe(200)
    const ok = await post(
      `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=x&subject_token_type=${encodeURIComponent(JWT_TYPE)}`,
    )
    expect(ok.status).toBe(400)
  })
})

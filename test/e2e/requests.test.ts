import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreUnavailable } from '../../lib/errors.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { captureStdout } from '../audit/capture-stdout.js'
import {
  expectRejected,
  goodClaims,
  type Harness,
  JWT_TYPE,
  startHarness,
  TOKEN_EXCHANGE,
} from './harness.js'

describe('token endpoint request handling', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  const raw = (body: string, contentType = 'application/x-www-form-urlencoded', method = 'POST') =>
    fetch(`${h.url}/token`, {
      method,
      headers: { 'content-type': contentType },
      body: method === 'GET' ? null : body,
    })

  it('accepts a valid exchange and answers RFC 8693 JSON with no-store', async () => {
    const res = await h.post(
      h.exchangeForm(await h.issuer.sign(goodClaims(h)), {
        scope: 'deploy:read',
        client_id: 'ignored',
        unknown: 'x',
      }),
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('pragma')).toBe('no-cache')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 600,
      scope: 'deploy:read',
    })
  })

  it('echoes requested_token_type jwt', async () => {
    const res = await h.post(
      h.exchangeForm(await h.issuer.sign(goodClaims(h)), {
        requested_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      }),
    )
    expect(((await res.json()) as Record<string, unknown>).issued_token_type).toBe(
      'urn:ietf:params:oauth:token-type:jwt',
    )
  })

  it.each([
    ['missing grant_type', { grant_type: '' }, 'invalid_request'],
    ['another grant_type', { grant_type: 'client_credentials' }, 'unsupported_grant_type'],
    ['missing subject_token', { subject_token: '' }, 'invalid_request'],
    ['missing subject_token_type', { subject_token_type: '' }, 'invalid_request'],
    ['unknown subject_token_type', { subject_token_type: 'urn:x:unknown' }, 'unsupported_token_type'],
    [
      'access_token as subject type',
      { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
      'unsupported_token_type',
    ],
    [
      'unknown requested_token_type',
      { requested_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
      'invalid_request',
    ],
    ['actor token with an OIDC subject', { actor_token: 'x', actor_token_type: JWT_TYPE }, 'invalid_request'],
    ['actor token without its type', { actor_token: 'x' }, 'invalid_request'],
    ['malformed scope', { scope: 'a  b' }, 'invalid_scope'],
    ['resource that is not an absolute URI', { resource: 'not a uri' }, 'invalid_request'],
  ])('%s', async (_, extra, error) => {
    const before = h.minted()
    await expectRejected(await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h)), extra)), 400, error)
    expect(h.minted()).toBe(before)
  })

  it('a repeated parameter other than audience/resource', async () => {
    const t = await h.issuer.sign(goodClaims(h))
    await expectRejected(
      await raw(
        `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=${t}&subject_token=${t}&subject_token_type=${encodeURIComponent(JWT_TYPE)}`,
      ),
      400,
      'invalid_request',
    )
  })
  it('bad percent-encoding', async () => {
    await expectRejected(await raw('grant_type=%E0%A4%A&subject_token=x'), 400, 'invalid_request')
  })
  it.each(['application/json', 'text/plain', 'multipart/form-data; boundary=x', ''])(
    'content type %j',
    async (type) => {
      await expectRejected(await raw('grant_type=x', type), 415, 'invalid_request')
    },
  )
  it('a body over 64 KiB', async () => {
    await expectRejected(await raw(`subject_token=${'a'.repeat(70_000)}`), 413, 'invalid_request')
  })
  it.each(['GET', 'PUT', 'DELETE'])('method %s', async (method) => {
    const res = await raw('', 'application/x-www-form-urlencoded', method)
    await expectRejected(res, 405, 'invalid_request')
  })
  it('an unknown path', async () => {
    await expectRejected(await fetch(`${h.url}/nope`), 404, 'not_found')
  })
  it('serves JWKS, metadata and health', async () => {
    const jwks = (await (await fetch(`${h.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown>[]
    }
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]?.d).toBeUndefined()
    const meta = await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()
    // Every metadata member the contract names.
    expect(meta).toMatchObject({
      issuer: h.url,
      token_endpoint: `${h.url}/token`,
      jwks_uri: `${h.url}/.well-known/jwks.json`,
      grant_types_supported: [TOKEN_EXCHANGE, 'urn:openid:params:grant-type:ciba'],
      introspection_endpoint: `${h.url}/introspect`,
      revocation_endpoint: `${h.url}/revoke`,
      token_endpoint_auth_methods_supported: expect.any(Array),
    })
    expect(await (await fetch(`${h.url}/.well-known/openid-configuration`)).json()).toEqual(meta)
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200)
  })
})

describe('audit trail and metrics of the token endpoint', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  it('an allowed and a denied exchange each produce exactly one event, with the token hash and never the token', async () => {
    const good = await h.issuer.sign(goodClaims(h))
    const bad = await h.issuer.sign(goodClaims(h, { sub: 'repo:acme/evil:ref:refs/heads/main' }))
    const ok = await h.post(h.exchangeForm(good))
    const denied = await h.post(h.exchangeForm(bad))
    const okId = ok.headers.get('x-request-id')
    const deniedId = denied.headers.get('x-request-id')
    const { access_token } = (await ok.json()) as { access_token: string }
    const okEvents = h.audit.events.filter((e) => e.request_id === okId)
    const deniedEvents = h.audit.events.filter((e) => e.request_id === deniedId)
    expect(okEvents).toHaveLength(1)
    expect(deniedEvents).toHaveLength(1)
    expect(okEvents[0]).toMatchObject({
      event: 'token.exchange',
      level: 'INFO',
      policy: 'deploy-app',
      provider: 'ci',
    })
    expect(deniedEvents[0]).toMatchObject({ event: 'token.denied', level: 'INFO', error: 'invalid_target' })
    const sha = (t: string) => createHash('sha256').update(t).digest('base64url')
    expect(okEvents[0]?.token_sha256).toBe(sha(good))
    expect(deniedEvents[0]?.token_sha256).toBe(sha(bad))
    const log = JSON.stringify(h.audit.events)
    for (const secret of [good, bad, access_token]) expect(log).not.toContain(secret)
    expect(log).not.toContain(good.split('.')[2])
    // the denial says which policy condition failed, by claim name only
    expect(JSON.stringify(deniedEvents[0]?.policies)).toContain('sub:exact:no-match')
    expect(h.metrics.total('exchanges', { outcome: 'allowed' })).toBeGreaterThanOrEqual(1)
    expect(h.metrics.total('exchanges', { outcome: 'denied' })).toBeGreaterThanOrEqual(1)
  })

  it('each exchange records its latency; the JWKS fetch on the cold path is counted', async () => {
    const before = h.metrics.records.filter((r) => r.kind === 'timing' && r.name === 'latency').length
    await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    const timings = h.metrics.records.filter((r) => r.kind === 'timing' && r.name === 'latency')
    expect(timings.length).toBe(before + 1)
    expect(timings.at(-1)?.dims).toEqual({ outcome: 'allowed' })
    expect(timings.at(-1)?.value).toBeGreaterThanOrEqual(0)
    expect(h.metrics.total('jwks_fetches')).toBeGreaterThanOrEqual(1)
  })

  it('a store outage counts store_errors and an error outcome, and mints nothing', async () => {
    const down = new MemoryTable()
    down.put = () => Promise.reject(new StoreUnavailable('down'))
    const outage = await startHarness({ brokerOptions: { table: down } })
    try {
      const form = outage.exchangeForm(await outage.issuer.sign(goodClaims(outage)))
      let res: Response | undefined
      const logs = await captureStdout(async () => {
        res = await outage.post(form)
      })
      await expectRejected(res as Response, 503, 'temporarily_unavailable')
      expect(logs.filter((l) => l.includes('"level":"ERROR"'))).toHaveLength(1)
      expect(outage.metrics.total('store_errors')).toBe(1)
      expect(outage.metrics.total('exchanges', { outcome: 'error' })).toBe(1)
      expect(outage.minted()).toBe(0)
    } finally {
      await outage.close()
    }
  })

  it('a malformed request is audited once too, without a provider', async () => {
    const res = await h.post({
      grant_type: TOKEN_EXCHANGE,
      subject_token: 'garbage',
      subject_token_type: JWT_TYPE,
    })
    const id = res.headers.get('x-request-id')
    const events = h.audit.events.filter((e) => e.request_id === id)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event: 'token.denied', error: 'invalid_request' })
    expect(events[0]?.provider).toBeUndefined()
  })
})

describe('local server: hostile HTTP', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  /** Sends raw bytes on a fresh connection and returns the raw response text. */
  function raw(request: string | Buffer): Promise<string> {
    const { port } = new URL(h.url)
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.end(request))
      let out = ''
      socket.on('data', (d) => {
        out += d
      })
      socket.on('end', () => resolve(out))
      socket.on('error', reject)
    })
  }

  it.each([
    ['an absolute-form target with a broken host', 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an absolute-form target with credentials', 'GET http://a:b@[::1/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a scheme-relative target', 'GET //evil/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a bad Content-Length', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
  ])('%s gets a JSON 400 with a request id, never a 5xx', async (_, request) => {
    const res = await raw(request)
    expect(res).toMatch(/^HTTP\/1\.1 400 /)
    expect(res).toMatch(/x-request-id: [\w-]+/i)
    expect(res).toContain('"error":"invalid_request"')
  })

  it('an HTTP/1.1 request without Host is served by the routes (no bare Node 400)', async () => {
    const res = await raw('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(res).toMatch(/^HTTP\/1\.1 200 /)
    expect(res).toContain('"status":"ok"')
  })

  it('an unsupported Expect header gets the JSON 400, not a bare 417', async () => {
    const res = await raw('POST /token HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 0\r\n\r\n')
    expect(res).toMatch(/^HTTP\/1\.1 400 /)
    expect(res).toMatch(/cache-control: no-store/i)
    expect(res).toContain('"error":"invalid_request"')
  })

  it('garbage pipelined after a valid request does not swallow its response', async () => {
    const res = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE \x00\r\n\r\n')
    expect(res).toMatch(/^HTTP\/1\.1 200 /)
    expect(res).toContain('"status":"ok"')
  })

  it('a body that is not valid UTF-8 is a 400', async () => {
    const body = Buffer.concat([Buffer.from('grant_type=x&subject_token='), Buffer.from([0xc3, 0x28])])
    const head = `POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`
    const res = await raw(Buffer.concat([Buffer.from(head), body]))
    expect(res).toMatch(/^HTTP\/1\.1 400 /)
    expect(res).toContain('not valid UTF-8')
  })

  it('error descriptions stay within the RFC 6749 character set', async () => {
    const res = await fetch(`${h.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '%C3%BC%22%5C=a&%C3%BC%22%5C=b',
    })
    const { error_description } = (await res.json()) as { error_description: string }
    expect(error_description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/)
  })
})

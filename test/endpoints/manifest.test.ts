import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { ENDPOINTS, type Endpoint, endpointNamed } from '../../lib/endpoints/manifest.js'
import { goodClaims, type Harness, startHarness } from '../e2e/harness.js'

// Every manifest entry, served by the local server's routes (the Lambda handlers themselves).

const endpoints: readonly Endpoint[] = ENDPOINTS
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] as const

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

const send = (path: string, method: string, init: RequestInit = {}) =>
  fetch(`${h.url}${path}`, { method, ...init })

describe('endpoint manifest, as served', () => {
  it.each(endpoints.flatMap((e) => e.paths.map((p) => [p, e] as const)))('%s is routed', async (path, e) => {
    // A parameter segment is routed for a value, never for the literal template.
    const res = await send(path.replace('{id}', 'an-id'), e.methods[0] ?? 'GET')
    await res.arrayBuffer()
    // /nonce answers 404 by design when no azure-imds provider is configured (as here).
    if (e.name !== 'nonce') expect(res.status).not.toBe(404)
    expect(res.status).toBeLessThan(500)
  })

  it.each(
    endpoints.flatMap((e) =>
      ALL_METHODS.filter((m) => !e.methods.includes(m as never)).map((m) => [e.name, m, e] as const),
    ),
  )('%s refuses %s with the JSON 405 (or is not served)', async (name, method, e) => {
    const res = await send(e.paths[0] ?? '/', method)
    const text = await res.text()
    expect(name === 'nonce' ? [404, 405] : [405]).toContain(res.status)
    if (method !== 'HEAD') expect(JSON.parse(text).error).toMatch(/^(invalid_request|not_found)$/)
  })

  it.each(endpoints.filter((e) => e.adminScope !== undefined).map((e) => [e.name, e] as const))(
    '%s wants a Bearer Tessera token: 401 without one',
    async (_, e) => {
      const method = e.methods[0] ?? 'POST'
      const res = await send(
        e.paths[0] ?? '/',
        method,
        method === 'POST'
          ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' }
          : {},
      )
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /)
      expect(((await res.json()) as { error?: string }).error).toBe('invalid_token')
    },
  )

  it('an unknown path is the JSON 404', async () => {
    const res = await send('/tokens', 'POST')
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error?: string }).error).toBe('not_found')
  })

  it('endpointNamed refuses a name the manifest does not list', () => {
    expect(endpointNamed('token').paths).toEqual(['/token'])
    expect(() => endpointNamed('approvals-typo')).toThrow(/no endpoint named approvals-typo/)
  })
})

describe('admin endpoints run on the Broker itself', () => {
  const adminToken = async (scopes: string[]) =>
    (
      await mintAccessToken(h.broker.keys.active, {
        issuer: h.broker.issuer,
        sub: 'ops',
        audience: [h.broker.issuer],
        scopes,
        ttl: 300,
        clientId: 'deploy-app',
        idp: 'ci',
        now: Date.now(),
      })
    ).token

  const revoke = async (form: Record<string, string>, scopes = ['tessera:revoke']) =>
    send('/revoke', 'POST', {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${await adminToken(scopes)}`,
      },
      body: new URLSearchParams(form).toString(),
    })

  it('POST /revoke counts the revocations metric (revoke and lift)', async () => {
    const before = h.metrics.total('revocations')
    expect((await revoke({ policy: 'release' })).status).toBe(200)
    expect(h.metrics.total('revocations', { action: 'revoke' })).toBe(1)
    expect((await revoke({ policy: 'release', lift: 'true' })).status).toBe(200)
    expect(h.metrics.total('revocations')).toBe(before + 2)
  })

  it('POST /revoke refuses a policy the config does not name, counting nothing', async () => {
    const before = h.metrics.total('revocations')
    const res = await revoke({ policy: 'relase' })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error_description?: string }).error_description).toMatch(
      /no policy named/,
    )
    expect(h.metrics.total('revocations')).toBe(before)
  })

  it('POST /revoke with only the introspect scope is 403, counting nothing', async () => {
    const before = h.metrics.total('revocations')
    const res = await revoke({ policy: 'release' }, ['tessera:introspect'])
    expect(res.status).toBe(403)
    await res.arrayBuffer()
    expect(h.metrics.total('revocations')).toBe(before)
  })

  it('an exchange still works beside them', async () => {
    const res = await h.post(h.exchangeForm(await h.issuer.sign(goodClaims(h))))
    expect(res.status).toBe(200)
    await res.arrayBuffer()
  })
})

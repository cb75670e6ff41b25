import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectRejected, type Harness, startHarness } from './harness.js'

/** Policies pinning the namespace and the service account, as operators should (not a `sub` glob). */
const POLICIES = `
policies:
  - name: payments-deployer
    provider: ci
    match:
      kubernetes.io.namespace: payments
      kubernetes.io.serviceaccount.name: deployer
    grant:
      token: { audience: https://api.example.com, scopes: [payments:deploy], ttl: 10m }
`

/** The claims of a real projected service-account token (Kubernetes 1.29+, bound to a pod). */
function projectedToken(h: Harness, namespace: string, serviceAccount: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    aud: [h.url],
    exp: now + 3600,
    iat: now,
    nbf: now,
    jti: randomUUID(),
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    'kubernetes.io': {
      namespace,
      node: { name: 'ip-10-0-1-23.eu-west-1.compute.internal', uid: randomUUID() },
      pod: { name: `${serviceAccount}-7f9c8d6b5-x2k4q`, uid: randomUUID() },
      serviceaccount: { name: serviceAccount, uid: randomUUID() },
      warnafter: now + 3000,
    },
  }
}

describe('kubernetes preset: a projected service-account token against tessera serve', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({
      providerExtra: '    preset: kubernetes',
      providerReplay: 'allow',
      policies: POLICIES,
    })
  })
  afterAll(() => h.close())

  const exchange = async (claims: Record<string, unknown>) =>
    h.post(h.exchangeForm(await h.issuer.sign(claims)))

  it('a token of the pinned namespace and service account gets its grant', async () => {
    const res = await exchange(projectedToken(h, 'payments', 'deployer'))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { scope: string; access_token: string }
    expect(body.scope).toBe('payments:deploy')
    const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1] ?? '', 'base64url').toString())
    expect(payload).toMatchObject({
      client_id: 'payments-deployer',
      sub: 'system:serviceaccount:payments:deployer',
    })
  })

  it('another namespace is refused', async () => {
    await expectRejected(await exchange(projectedToken(h, 'billing', 'deployer')), 400, 'invalid_target')
  })

  it('another service account of the namespace is refused', async () => {
    await expectRejected(await exchange(projectedToken(h, 'payments', 'default')), 400, 'invalid_target')
  })

  it('a token without the kubernetes.io claim is refused', async () => {
    const { 'kubernetes.io': _k8s, ...claims } = projectedToken(h, 'payments', 'deployer')
    await expectRejected(await exchange(claims), 400, 'invalid_target')
  })

  it('a top-level literal key wins over the nested claim, so it cannot be used to sneak a namespace in', async () => {
    const claims = { ...projectedToken(h, 'payments', 'deployer'), 'kubernetes.io.namespace': 'billing' }
    await expectRejected(await exchange(claims), 400, 'invalid_target')
  })

  it('a namespace of the wrong type never matches', async () => {
    const claims = projectedToken(h, 'payments', 'deployer')
    claims['kubernetes.io'] = { ...(claims['kubernetes.io'] as object), namespace: { name: 'payments' } }
    await expectRejected(await exchange(claims), 400, 'invalid_target')
    expect(h.minted()).toBe(1)
  })
})

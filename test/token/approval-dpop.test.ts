import { generateKeyPairSync } from 'node:crypto'
import type { JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDpopProof } from '../../lib/client/dpop.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import {
  agentBroker,
  answer,
  BROKER,
  CIBA,
  claimsOf,
  decide,
  formRequest,
  JWT_TYPE,
  TOKEN_EXCHANGE,
} from './agent-fixture.js'

// With DPoP the poll is the token request (RFC 9449): its own proof binds the token minted then.

let agents: TestIssuer
let others: TestIssuer
beforeAll(async () => {
  agents = await startTestIssuer({ alg: 'ES256' })
  others = await startTestIssuer({ alg: 'ES256' })
})
afterAll(async () => {
  await agents.close()
  await others.close()
})

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK

async function withProof(form: Record<string, string>, now: number, proofKey: JWK | null = key) {
  const req = formRequest('/token', form)
  if (!proofKey) return req
  const dpop = await createDpopProof(proofKey, { method: 'POST', url: `${BROKER}/token`, now })
  return { ...req, headers: { ...req.headers, dpop } }
}

const pollOf = (pending: { body: Record<string, unknown> }) => ({
  grant_type: CIBA,
  auth_req_id: String(pending.body.auth_req_id),
})

describe('approval with DPoP', () => {
  it("binds the approved token to the poll's proof key", async () => {
    const b = await agentBroker(agents, others)
    const ask = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await agents.sign({ sub: 'agent-7', aud: BROKER }),
      subject_token_type: JWT_TYPE,
      audience: 'https://tickets.example.com',
    }
    const pending = await answer(exchangeToken, b.broker, await withProof(ask, b.clock.ms))
    expect(pending.body.error).toBe('authorization_pending')
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    b.clock.ms += 5000
    const poll = { grant_type: CIBA, auth_req_id: String(pending.body.auth_req_id) }
    const res = await answer(exchangeToken, b.broker, await withProof(poll, b.clock.ms))
    expect(res.status).toBe(200)
    expect(res.body.token_type).toBe('DPoP')
    expect(claimsOf(res.body.access_token)).toMatchObject({
      approved_by: ['alice'],
      cnf: { jkt: expect.any(String) },
    })
  })

  it('refuses a poll with an invalid proof, keeping the approved request for a good poll', async () => {
    const b = await agentBroker(agents, others)
    const ask = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await agents.sign({ sub: 'agent-7', aud: BROKER }),
      subject_token_type: JWT_TYPE,
      audience: 'https://tickets.example.com',
    }
    const pending = await answer(exchangeToken, b.broker, await withProof(ask, b.clock.ms, null))
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    b.clock.ms += 5000
    const poll = { grant_type: CIBA, auth_req_id: String(pending.body.auth_req_id) }
    const bad = {
      ...formRequest('/token', poll),
      headers: { ...formRequest('/token', poll).headers, dpop: 'x.y.z' },
    }
    expect((await answer(exchangeToken, b.broker, bad)).body.error).toBe('invalid_dpop_proof')
    b.clock.ms += 5000
    const res = await answer(exchangeToken, b.broker, formRequest('/token', poll))
    expect([res.status, res.body.token_type]).toEqual([200, 'Bearer'])
  })

  it("refuses a poll under another key, or none, than the request's proof, keeping the approved request", async () => {
    const b = await agentBroker(agents, others)
    const ask = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await agents.sign({ sub: 'agent-7', aud: BROKER }),
      subject_token_type: JWT_TYPE,
      audience: 'https://tickets.example.com',
    }
    const pending = await answer(exchangeToken, b.broker, await withProof(ask, b.clock.ms))
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    const poll = { grant_type: CIBA, auth_req_id: String(pending.body.auth_req_id) }
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'jwk',
    }) as JWK
    for (const proofKey of [thief, null]) {
      b.clock.ms += 5000
      const res = await answer(exchangeToken, b.broker, await withProof(poll, b.clock.ms, proofKey))
      expect([res.status, res.body.error]).toEqual([400, 'invalid_dpop_proof'])
    }
    b.clock.ms += 5000
    const res = await answer(exchangeToken, b.broker, await withProof(poll, b.clock.ms))
    expect([res.status, res.body.token_type]).toEqual([200, 'DPoP'])
    expect(b.audit.events.filter((e) => e.event === 'token.exchange')).toHaveLength(1)
  })

  it('keeps the approved request when a poll replays a spent proof', async () => {
    const b = await agentBroker(agents, others)
    const ask = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await agents.sign({ sub: 'agent-7', aud: BROKER }),
      subject_token_type: JWT_TYPE,
      audience: 'https://tickets.example.com',
    }
    const request = await withProof(ask, b.clock.ms)
    const pending = await answer(exchangeToken, b.broker, request)
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    b.clock.ms += 5000
    const poll = formRequest('/token', { grant_type: CIBA, auth_req_id: String(pending.body.auth_req_id) })
    const replayed = { ...poll, headers: { ...poll.headers, dpop: String(request.headers.dpop) } }
    const refused = await answer(exchangeToken, b.broker, replayed)
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_dpop_proof'])
    b.clock.ms += 5000
    const res = await answer(exchangeToken, b.broker, await withProof(pollOf(pending), b.clock.ms))
    expect([res.status, res.body.token_type]).toEqual([200, 'DPoP'])
  })
})

import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js'
import {
  agentBroker,
  BROKER,
  CIBA,
  claimsOf,
  decide,
  exchange,
  JWT_TYPE,
  TOKEN_EXCHANGE,
} from './agent-fixture.js'

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

const userToken = () => agents.sign({ sub: 'user-1', aud: BROKER })
const actorToken = (claims: Record<string, unknown> = {}) =>
  agents.sign({ sub: 'agent-7', aud: BROKER, ...claims })
const onBehalf = (subject: string, actor?: string, extra: Record<string, string> = {}) => ({
  grant_type: TOKEN_EXCHANGE,
  subject_token: subject,
  subject_token_type: JWT_TYPE,
  audience: 'https://api.example.com',
  ...(actor === undefined ? {} : { actor_token: actor, actor_token_type: JWT_TYPE }),
  ...extra,
})

describe('delegation (actor_token)', () => {
  it('mints a token for the subject whose act names the actor', async () => {
    const b = await agentBroker(agents, others)
    const res = await exchange(b.broker, onBehalf(await userToken(), await actorToken()))
    expect(res.status).toBe(200)
    expect(claimsOf(res.body.access_token)).toMatchObject({
      sub: 'user-1',
      client_id: 'on-behalf',
      act: { sub: 'agent-7', idp: 'agents' },
    })
  })

  it('names the actor (and the SHA-256 of its token) in the audit event, at once and after approval', async () => {
    const b = await agentBroker(agents, others)
    const actor = await actorToken()
    expect((await exchange(b.broker, onBehalf(await userToken(), actor))).status).toBe(200)
    const actorSha = createHash('sha256').update(actor).digest('base64url')
    const acting = { actor_provider: 'agents', actor_sub: 'agent-7' }
    expect(b.audit.events.find((e) => e.event === 'token.exchange')).toMatchObject({
      sub: 'user-1',
      ...acting,
    })
    const held = await exchange(
      b.broker,
      onBehalf(await userToken(), await actorToken(), { audience: 'https://admin.example.com' }),
    )
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    b.clock.ms += 5000
    await exchange(b.broker, { grant_type: CIBA, auth_req_id: String(held.body.auth_req_id) })
    const redeemed = b.audit.events.filter((e) => e.event === 'token.exchange')
    expect(redeemed.at(-1)).toMatchObject({ approval_id: id, ...acting })
    expect(JSON.stringify(b.audit.events)).not.toContain(actor)
    expect(redeemed[0]?.actor_token_sha256).toBe(actorSha)
  })

  it("keeps the actor token's own act nested", async () => {
    const b = await agentBroker(agents, others)
    const actor = await actorToken({
      act: { sub: 'orchestrator', iss: 'https://o.example.com', act: { sub: 'root' } },
    })
    const res = await exchange(b.broker, onBehalf(await userToken(), actor))
    expect(claimsOf(res.body.access_token).act).toEqual({
      sub: 'agent-7',
      idp: 'agents',
      act: { sub: 'orchestrator', iss: 'https://o.example.com', act: { sub: 'root' } },
    })
  })

  it('holds a delegated grant with approval and mints act with approved_by once approved', async () => {
    const b = await agentBroker(agents, others)
    const pending = await exchange(
      b.broker,
      onBehalf(await userToken(), await actorToken(), { audience: 'https://admin.example.com' }),
    )
    expect(pending.body.error).toBe('authorization_pending')
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    // The actor may not approve what it asked for, any more than the subject may.
    expect((await decide(b.broker, b.signer, id, 'agent-7', 'approve')).status).toBe(403)
    expect((await decide(b.broker, b.signer, id, 'user-1', 'approve')).status).toBe(403)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    b.clock.ms += 5000
    const res = await exchange(b.broker, { grant_type: CIBA, auth_req_id: String(pending.body.auth_req_id) })
    expect(claimsOf(res.body.access_token)).toMatchObject({
      sub: 'user-1',
      act: { sub: 'agent-7', idp: 'agents' },
      approved_by: ['alice'],
    })
  })

  it('refuses to mint for a revoked actor (kill switch), at once and after approval', async () => {
    const b = await agentBroker(agents, others)
    const held = await exchange(
      b.broker,
      onBehalf(await userToken(), await actorToken(), { audience: 'https://admin.example.com' }),
    )
    const id = String(b.audit.events.find((e) => e.event === 'approval.requested')?.approval_id)
    await decide(b.broker, b.signer, id, 'alice', 'approve')
    await b.broker.revocations.revoke({ provider: 'agents', sub: 'agent-7' }, 'ops')
    const now = await exchange(b.broker, onBehalf(await userToken(), await actorToken()))
    expect([now.status, now.body.error]).toEqual([400, 'invalid_request'])
    b.clock.ms += 5000
    const later = await exchange(b.broker, { grant_type: CIBA, auth_req_id: String(held.body.auth_req_id) })
    expect([later.status, later.body.error]).toEqual([400, 'invalid_request'])
    expect(b.audit.events.some((e) => e.event === 'token.exchange')).toBe(false)
  })

  it('refuses a policy with actor: to a request without an actor token', async () => {
    const b = await agentBroker(agents, others)
    expect((await exchange(b.broker, onBehalf(await userToken()))).body.error).toBe('invalid_target')
  })

  it('refuses an actor whose claims do not match', async () => {
    const b = await agentBroker(agents, others)
    const wrong = await agents.sign({ sub: 'agent-8', aud: BROKER })
    expect((await exchange(b.broker, onBehalf(await userToken(), wrong))).body.error).toBe('invalid_target')
  })

  it('refuses an actor from another provider than the policy names', async () => {
    const b = await agentBroker(agents, others)
    const foreign = await others.sign({ sub: 'agent-7', aud: BROKER })
    expect((await exchange(b.broker, onBehalf(await userToken(), foreign))).body.error).toBe('invalid_target')
  })

  it('refuses an actor token on a policy without actor:', async () => {
    const b = await agentBroker(agents, others)
    const agent = await agents.sign({ sub: 'agent-7', aud: BROKER })
    const res = await exchange(b.broker, {
      ...onBehalf(agent, await actorToken()),
      audience: 'https://logs.example.com',
    })
    expect(res.body.error).toBe('invalid_target')
  })

  it('refuses a replayed actor token', async () => {
    const b = await agentBroker(agents, others)
    const actor = await actorToken()
    expect((await exchange(b.broker, onBehalf(await userToken(), actor))).status).toBe(200)
    const replay = await exchange(b.broker, onBehalf(await userToken(), actor))
    expect(replay.body.error).toBe('invalid_request')
    expect(b.audit.events.at(-1)?.reason).toBe('replay')
  })

  it('refuses the same token as subject and actor', async () => {
    const b = await agentBroker(agents, others)
    const token = await userToken()
    expect((await exchange(b.broker, onBehalf(token, token))).status).toBe(400)
  })

  it('refuses an actor token without actor_token_type, or of another type', async () => {
    const b = await agentBroker(agents, others)
    const actor = await actorToken()
    const bare = { ...onBehalf(await userToken()), actor_token: actor }
    expect((await exchange(b.broker, bare)).body.error).toBe('invalid_request')
    const idToken = {
      ...onBehalf(await userToken(), actor),
      actor_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    }
    expect((await exchange(b.broker, idToken)).body.error).toBe('invalid_request')
  })

  it('refuses an actor token that fails verification, naming actor_token', async () => {
    const b = await agentBroker(agents, others)
    const expired = await agents.sign({
      sub: 'agent-7',
      aud: BROKER,
      exp: Math.floor(Date.now() / 1000) - 3600,
    })
    const res = await exchange(b.broker, onBehalf(await userToken(), expired))
    expect(res.body.error).toBe('invalid_request')
    expect(b.audit.events.at(-1)?.reason).toMatch(/^actor_token/)
    const tampered = `${(await actorToken()).slice(0, -4)}AAAA`
    expect((await exchange(b.broker, onBehalf(await userToken(), tampered))).body.error).toBe(
      'invalid_request',
    )
  })

  it.each([
    ['a string', 'orchestrator'],
    ['an object without sub', { iss: 'x' }],
    ['an array', [{ sub: 'a' }]],
    [
      'too deep a chain',
      {
        sub: 'a',
        act: { sub: 'b', act: { sub: 'c', act: { sub: 'd', act: { sub: 'e', act: { sub: 'f' } } } } },
      },
    ],
  ])('refuses an actor token whose act is %s', async (_what, act) => {
    const b = await agentBroker(agents, others)
    const res = await exchange(b.broker, onBehalf(await userToken(), await actorToken({ act })))
    expect(res.body.error).toBe('invalid_request')
  })

  it('does not consume the subject token when the actor is refused by policy', async () => {
    const b = await agentBroker(agents, others)
    const subject = await userToken()
    const wrong = await agents.sign({ sub: 'agent-8', aud: BROKER })
    expect((await exchange(b.broker, onBehalf(subject, wrong))).body.error).toBe('invalid_target')
    expect((await exchange(b.broker, onBehalf(subject, await actorToken()))).status).toBe(200)
  })
})

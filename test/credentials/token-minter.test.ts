import { decodeJwt, importJWK, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { VerifiedSubject } from '../../lib/assertion/types.js'
import type { MintContext } from '../../lib/credentials/minter.js'
import { createTokenMinter } from '../../lib/credentials/token-minter.js'
import { ServerError } from '../../lib/errors.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { Signer } from '../../lib/keys/signer.js'

const ISSUER = 'https://sts.example.com'
const NOW = 1_800_000_000_000
const grant = {
  kind: 'token' as const,
  audience: ['https://api.example.com'],
  scopes: ['deploy:read', 'deploy:write'],
  ttl: 600,
}
const subject: VerifiedSubject = {
  provider: 'agents',
  kind: 'oidc',
  issuer: 'https://idp.example.com',
  sub: 'agent-7',
  claims: { sub: 'agent-7' },
  tokenHash: 'aGFzaA',
}
const ctx = (extra: Partial<MintContext> = {}): MintContext => ({
  policy: 'agent-logs',
  requestId: 'req-1',
  request: {
    subjectToken: 'unused',
    subjectTokenType: TokenTypes.jwt,
    audiences: [],
    resources: [],
    tokenType: TokenTypes.accessToken,
  },
  now: NOW,
  ...extra,
})

let signer: Signer
beforeAll(async () => {
  signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
})
const minter = () =>
  createTokenMinter({ issuer: ISSUER, keys: { active: signer, publicKeys: [signer.publicJwk] } })

describe('token minter', () => {
  it('answers the RFC 8693 body and records the grant without the token', async () => {
    const { body, granted } = await minter().mint(grant, subject, ctx())
    expect(body).toMatchObject({
      issued_token_type: TokenTypes.accessToken,
      token_type: 'Bearer',
      expires_in: 600,
      scope: 'deploy:read deploy:write',
    })
    const { payload } = await jwtVerify(
      String(body.access_token),
      await importJWK(signer.publicJwk, 'ES256'),
      {
        currentDate: new Date(NOW),
        issuer: ISSUER,
        audience: 'https://api.example.com',
      },
    )
    expect(payload).toMatchObject({ sub: 'agent-7', client_id: 'agent-logs', idp: 'agents' })
    expect(granted).toEqual({
      audience: grant.audience,
      scope: 'deploy:read deploy:write',
      ttl: 600,
      jti: payload.jti,
      kid: signer.kid,
    })
    expect(JSON.stringify(granted)).not.toContain(String(body.access_token))
  })

  it('merges the extra claims into the JWT', async () => {
    const extraClaims = { act: { sub: 'alice', idp: 'corp' }, approved_by: ['bob'] }
    const { body } = await minter().mint(grant, subject, ctx({ extraClaims }))
    expect(decodeJwt(String(body.access_token))).toMatchObject(extraClaims)
  })

  it('answers with the requested token_type and issued_token_type', async () => {
    const request = { ...ctx().request, tokenType: TokenTypes.jwt }
    const { body } = await minter().mint(grant, subject, ctx({ tokenType: 'DPoP', request }))
    expect(body.token_type).toBe('DPoP')
    expect(body.issued_token_type).toBe(TokenTypes.jwt)
  })

  it.each(['sub', 'aud', 'iss', 'exp', 'scope', 'client_id'])(
    'refuses an extra claim named %s: it would change who or what the token is for',
    async (name) => {
      await expect(
        minter().mint(grant, subject, ctx({ extraClaims: { [name]: 'attacker' } })),
      ).rejects.toBeInstanceOf(ServerError)
    },
  )

  it('omits scope from the body when the grant has none', async () => {
    const { body } = await minter().mint({ ...grant, scopes: [] }, subject, ctx())
    expect(body).not.toHaveProperty('scope')
    expect(decodeJwt(String(body.access_token))).not.toHaveProperty('scope')
  })

  it('signs with the key active at minting time, and reports that kid', async () => {
    const next = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    const keys = { active: signer, publicKeys: [signer.publicJwk] }
    const m = createTokenMinter({ issuer: ISSUER, keys })
    keys.active = next
    const { granted } = await m.mint(grant, subject, ctx())
    expect(granted.kid).toBe(next.kid)
  })
})

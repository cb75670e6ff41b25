import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'

const claims = {
  issuer: 'https://sts.example.com',
  sub: 'repo:acme/app:ref:refs/heads/main',
  audience: ['https://api.example.com'],
  scopes: ['deploy:write'],
  ttl: 600,
  clientId: 'deploy-app',
  idp: 'github-actions',
  now: 1_800_000_000_000,
}

describe('RFC 9068 access tokens', () => {
  it('carries the RFC 9068 header and claims, one signature', async () => {
    const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    let calls = 0
    const counting = {
      ...signer,
      sign: (b: Uint8Array) => {
        calls++
        return signer.sign(b)
      },
    }
    const minted = await mintAccessToken(counting, claims)
    expect(calls).toBe(1)
    expect(decodeProtectedHeader(minted.token)).toEqual({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt' })
    const { payload } = await jwtVerify(minted.token, await importJWK(signer.publicJwk, 'ES256'), {
      typ: 'at+jwt',
      currentDate: new Date(claims.now),
    })
    expect(payload).toEqual({
      iss: claims.issuer,
      sub: claims.sub,
      aud: 'https://api.example.com',
      exp: 1_800_000_600,
      iat: 1_800_000_000,
      nbf: 1_800_000_000,
      jti: minted.jti,
      client_id: 'deploy-app',
      idp: 'github-actions',
      scope: 'deploy:write',
    })
  })

  it('uses an audience list for several audiences, omits an empty scope, and never repeats a jti', async () => {
    const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    const a = await mintAccessToken(signer, { ...claims, audience: ['https://a', 'https://b'], scopes: [] })
    const b = await mintAccessToken(signer, claims)
    const payload = JSON.parse(Buffer.from(a.token.split('.')[1] as string, 'base64url').toString())
    expect(payload.aud).toEqual(['https://a', 'https://b'])
    expect(payload.scope).toBeUndefined()
    expect(a.jti).not.toBe(b.jti)
  })

  it('a token does not verify under another key or with a tampered payload', async () => {
    const signer = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    const other = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
    const { token } = await mintAccessToken(signer, claims)
    const opts = { currentDate: new Date(claims.now) }
    await expect(jwtVerify(token, await importJWK(other.publicJwk, 'ES256'), opts)).rejects.toThrow()
    const [h, , s] = token.split('.')
    const forged = Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')
    await expect(
      jwtVerify(`${h}.${forged}.${s}`, await importJWK(signer.publicJwk, 'ES256'), opts),
    ).rejects.toThrow()
  })
})

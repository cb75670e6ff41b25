import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader, type JWK } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { createDpopProof, loadOrCreateDpopKey } from '../../lib/client/dpop.js'
import { accessTokenHash, verifyDpopProof } from '../../lib/dpop/proof.js'
import { proofKey, thumbprint } from '../dpop/proof-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'tessera-dpop-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const URL_ = 'https://api.example.com/deploy'

function keyFile(name: string, content: unknown, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode })
  return path
}

describe('loadOrCreateDpopKey', () => {
  it('creates a private P-256 JWK with mode 0600 (and its folder), then reuses it', async () => {
    const path = join(dir, 'new', 'dpop.json')
    const created = await loadOrCreateDpopKey(path)
    expect(created).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' })
    expect(typeof created.d).toBe('string')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(await loadOrCreateDpopKey(path)).toEqual(created)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(created)
  })

  it('uses an existing RSA key', async () => {
    const path = keyFile('rsa.json', proofKey('RS256').privateJwk)
    expect((await loadOrCreateDpopKey(path)).kty).toBe('RSA')
  })

  it('refuses a key file others can read', async () => {
    const path = keyFile('open.json', proofKey('ES256').privateJwk, 0o644)
    await expect(loadOrCreateDpopKey(path)).rejects.toThrow(/chmod 600/)
  })

  it('refuses a public key, a symmetric key, another curve and a file that is not JSON', async () => {
    const es = proofKey('ES256')
    await expect(loadOrCreateDpopKey(keyFile('pub.json', es.publicJwk))).rejects.toThrow(/private JWK/)
    await expect(loadOrCreateDpopKey(keyFile('oct.json', { kty: 'oct', k: 'c2VjcmV0' }))).rejects.toThrow()
    await expect(
      loadOrCreateDpopKey(keyFile('p384.json', { ...es.privateJwk, crv: 'P-384' })),
    ).rejects.toThrow(/P-256/)
    await expect(loadOrCreateDpopKey(keyFile('text.json', 'not json'))).rejects.toThrow(/JSON/)
  })
})

describe('createDpopProof', () => {
  const es = proofKey('ES256')
  const key = es.privateJwk as JWK

  it('makes a proof the broker accepts, bound to the key thumbprint, with only public members in jwk', async () => {
    const proof = await createDpopProof(key, { method: 'post', url: 'https://sts.example.com/token' })
    const header = decodeProtectedHeader(proof)
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
    expect(Object.keys(header.jwk ?? {}).sort()).toEqual(['crv', 'kty', 'x', 'y'])
    const verified = await verifyDpopProof(proof, {
      method: 'POST',
      url: 'https://sts.example.com/token',
      now: Date.now(),
    })
    expect(verified.jkt).toBe(await thumbprint(es))
  })

  it('leaves query and fragment out of htu, adds ath for an access token, and uses a fresh jti each time', async () => {
    const a = await createDpopProof(key, { method: 'GET', url: `${URL_}?page=2#top`, accessToken: 'a.b.c' })
    const payload = JSON.parse(Buffer.from(a.split('.')[1] as string, 'base64url').toString()) as Record<
      string,
      unknown
    >
    expect(payload).toMatchObject({ htm: 'GET', htu: URL_, ath: accessTokenHash('a.b.c') })
    const b = await createDpopProof(key, { method: 'GET', url: URL_ })
    const jti = (p: string) => JSON.parse(Buffer.from(p.split('.')[1] as string, 'base64url').toString()).jti
    expect(jti(a)).not.toBe(jti(b))
  })

  it('signs RS256 with an RSA key', async () => {
    const proof = await createDpopProof(proofKey('RS256').privateJwk as JWK, { method: 'GET', url: URL_ })
    expect(decodeProtectedHeader(proof).alg).toBe('RS256')
  })

  it('refuses a URL that is not http(s), a public key and a key for another alg', async () => {
    await expect(createDpopProof(key, { method: 'GET', url: 'ftp://x/y' })).rejects.toThrow(/http/)
    await expect(createDpopProof(es.publicJwk as JWK, { method: 'GET', url: URL_ })).rejects.toThrow(
      /private/,
    )
    await expect(createDpopProof({ ...key, alg: 'ES384' }, { method: 'GET', url: URL_ })).rejects.toThrow(
      /ES384/,
    )
  })
})

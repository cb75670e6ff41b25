import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { accessTokenHash, verifyDpopProof } from '../../lib/dpop/proof.js'
import { InvalidDpopProof } from '../../lib/errors.js'
import { makeProof, NOW, proofKey, signRaw, TOKEN_URL, thumbprint } from './proof-fixture.js'

const es = proofKey('ES256')
const rs = proofKey('RS256')
const IAT = Math.floor(NOW / 1000)
const expectAt = { method: 'POST', url: TOKEN_URL, now: NOW }

async function rejects(proof: string, expect_ = expectAt): Promise<string> {
  const err = await verifyDpopProof(proof, expect_).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(InvalidDpopProof)
  const e = err as InvalidDpopProof
  expect(e.code).toBe('invalid_dpop_proof')
  expect(e.status).toBe(400)
  expect(e.message).not.toMatch(/["\\]/)
  return e.message
}

describe('verifyDpopProof: valid proofs', () => {
  it('accepts an ES256 proof and returns the RFC 7638 thumbprint, jti and iat', async () => {
    const proof = makeProof(es, { payload: { jti: 'one' } })
    await expect(verifyDpopProof(proof, expectAt)).resolves.toEqual({
      jkt: await thumbprint(es),
      jti: 'one',
      iat: IAT,
    })
  })

  it('accepts an RS256 proof', async () => {
    const proof = makeProof(rs)
    expect((await verifyDpopProof(proof, expectAt)).jkt).toBe(await thumbprint(rs))
  })

  it('ignores query and fragment on both sides and normalises scheme, host case and default port', async () => {
    const proof = makeProof(es, { payload: { htu: 'HTTPS://STS.example.com:443/token?x=1#f' } })
    await expect(verifyDpopProof(proof, { ...expectAt, url: `${TOKEN_URL}?a=b#c` })).resolves.toBeDefined()
  })

  it('accepts iat exactly 60 s before or after now', async () => {
    for (const iat of [IAT - 60, IAT + 60])
      await expect(verifyDpopProof(makeProof(es, { payload: { iat } }), expectAt)).resolves.toBeDefined()
  })

  it('checks ath against the access token for a resource request', async () => {
    const proof = makeProof(es, { payload: { ath: accessTokenHash('tok.en.x'), htm: 'GET' } })
    await expect(
      verifyDpopProof(proof, { ...expectAt, method: 'GET', accessToken: 'tok.en.x' }),
    ).resolves.toBeDefined()
  })
})

describe('verifyDpopProof: malformed proofs', () => {
  it.each([
    ['empty', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['non-base64url characters', 'a+b.c.d'],
    ['two proofs joined as a repeated header', `${makeProof(es)}, ${makeProof(es)}`],
    ['over 8 KiB', `${'a'.repeat(8190)}.b.c`],
  ])('refuses %s', async (_, proof) => {
    expect(await rejects(proof)).toMatch(/compact JWS/)
  })

  it('refuses a header or payload that is not a JSON object', async () => {
    const payload = JSON.stringify({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: IAT })
    const header = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: es.publicJwk })
    await rejects(signRaw('not json', payload, es))
    await rejects(signRaw('[1]', payload, es))
    await rejects(signRaw(header, '[]', es))
    await rejects(signRaw(header, 'null', es))
    await rejects(signRaw(header, 'nope', es))
  })

  it('refuses a repeated member name in the header or the payload', async () => {
    const jwk = JSON.stringify(es.publicJwk)
    const payload = JSON.stringify({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: IAT })
    expect(
      await rejects(signRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":${jwk},"typ":"dpop+jwt"}`, payload, es)),
    ).toMatch(/unique member names/)
    const header = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: es.publicJwk })
    expect(
      await rejects(
        signRaw(header, `{"jti":"x","htm":"GET","htm":"POST","htu":"${TOKEN_URL}","iat":${IAT}}`, es),
      ),
    ).toMatch(/unique member names/)
  })

  it.each([undefined, 'JWT', 'at+jwt', 'DPOP+JWT', 'application/dpop+jwt'])('refuses typ %s', async (typ) => {
    expect(await rejects(makeProof(es, { header: { typ } }))).toMatch(/typ must be dpop\+jwt/)
  })

  it.each([undefined, 'none', 'HS256', 'ES384', 'PS256', 'EdDSA', 'es256'])('refuses alg %s', async (alg) => {
    expect(await rejects(makeProof(es, { header: { alg } }))).toMatch(/alg must be one of ES256, RS256/)
  })
})

describe('verifyDpopProof: the header jwk', () => {
  it('refuses a missing or non-object jwk', async () => {
    for (const jwk of [undefined, 'key', [es.publicJwk], null])
      expect(await rejects(makeProof(es, { header: { jwk } }))).toMatch(/jwk object/)
  })

  it('refuses a private key in the header, whichever private member it carries', async () => {
    expect(await rejects(makeProof(es, { header: { jwk: es.privateJwk } }))).toMatch(/public key/)
    for (const member of ['p', 'q', 'dp', 'dq', 'qi', 'oth'])
      expect(
        await rejects(makeProof(rs, { header: { jwk: { ...rs.publicJwk, [member]: 'AQAB' } } })),
      ).toMatch(/public key/)
  })

  it('refuses a symmetric (oct) key', async () => {
    expect(await rejects(makeProof(es, { header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } }))).toMatch(
      /public key/,
    )
  })

  it('refuses a key that does not fit the alg', async () => {
    expect(await rejects(makeProof(es, { header: { alg: 'RS256' } }))).toMatch(/does not fit RS256/)
    expect(await rejects(makeProof(rs, { header: { alg: 'ES256' } }))).toMatch(/does not fit ES256/)
    const p384 = proofKey('ES256')
    const jwk = { ...p384.publicJwk, crv: 'P-384' }
    expect(await rejects(makeProof(p384, { header: { jwk } }))).toMatch(/does not fit ES256/)
  })

  it('refuses a jwk naming another alg or another use', async () => {
    expect(await rejects(makeProof(es, { header: { jwk: { ...es.publicJwk, alg: 'ES384' } } }))).toMatch(
      /jwk alg/,
    )
    expect(await rejects(makeProof(es, { header: { jwk: { ...es.publicJwk, use: 'enc' } } }))).toMatch(
      /use must be sig/,
    )
  })

  it('refuses coordinates that are not a key', async () => {
    const jwk = { ...es.publicJwk, x: 'AAAA' }
    expect(await rejects(makeProof(es, { header: { jwk } }))).toMatch(/not a valid key/)
  })

  it('refuses an RSA key under 2048 bits', async () => {
    const small = proofKey('RS256', 1024)
    expect(await rejects(makeProof(small))).toMatch(/at least 2048 bits/)
  })

  it('refuses a proof signed by another key than its jwk', async () => {
    const other = proofKey('ES256')
    expect(await rejects(makeProof({ ...other, publicJwk: es.publicJwk }))).toMatch(/signature/)
  })

  it('refuses a tampered payload', async () => {
    const [h, , s] = makeProof(es).split('.')
    const payload = Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: IAT })).toString(
      'base64url',
    )
    expect(await rejects(`${h}.${payload}.${s}`)).toMatch(/signature/)
  })
})

describe('verifyDpopProof: claims', () => {
  it.each([undefined, '', 42, 'x'.repeat(257)])('refuses jti %s', async (jti) => {
    expect(await rejects(makeProof(es, { payload: { jti } }))).toMatch(/jti/)
  })

  it.each([undefined, 'GET', 'post', ['POST']])('refuses htm %s for a POST', async (htm) => {
    expect(await rejects(makeProof(es, { payload: { htm } }))).toMatch(
      /htm does not match the request method/,
    )
  })

  it.each([
    undefined,
    42,
    'not a url',
    'http://sts.example.com/token',
    'https://sts.example.com:8443/token',
    'https://evil.example.com/token',
    'https://sts.example.com/token/',
    'https://sts.example.com/other',
    'ftp://sts.example.com/token',
  ])('refuses htu %s', async (htu) => {
    expect(await rejects(makeProof(es, { payload: { htu } }))).toMatch(/htu/)
  })

  it.each([
    'https://sts.example.com/admin/../token',
    'https://sts.example.com/admin/%2e%2E/token',
    'https://sts.example.com/./token',
    'https://sts.example.com/admin\\..\\token',
    'https://sts.example.com\\token',
  ])('refuses a request URL %s whose path only normalises to the proof htu', async (url) => {
    // A router that does not normalise would answer such a request on another path than htu names.
    expect(await rejects(makeProof(es), { ...expectAt, url })).toMatch(/htu/)
  })

  it('still ignores dot segments and dots elsewhere in the request URL query and host', async () => {
    const proof = makeProof(es, { payload: { htu: 'https://sts.example.com/a/../token' } })
    await expect(
      verifyDpopProof(proof, { ...expectAt, url: `${TOKEN_URL}?next=/a/../b#../c` }),
    ).resolves.toBeDefined()
    await expect(
      verifyDpopProof(makeProof(es, { payload: { htu: 'https://sts.example.com/.well/..x' } }), {
        ...expectAt,
        url: 'https://sts.example.com/.well/..x',
      }),
    ).resolves.toBeDefined()
  })

  it.each([undefined, '1780000000', IAT + 0.5, -1, 1e300, IAT - 61, IAT + 61])(
    'refuses iat %s',
    async (iat) => {
      expect(await rejects(makeProof(es, { payload: { iat } }))).toMatch(/iat/)
    },
  )

  it('refuses an iat of 1e400 (Infinity once parsed)', async () => {
    const header = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: es.publicJwk })
    const payload = `{"jti":"x","htm":"POST","htu":"${TOKEN_URL}","iat":1e400}`
    expect(await rejects(signRaw(header, payload, es))).toMatch(/iat/)
  })

  it('refuses a missing or wrong ath on a resource request', async () => {
    const at = { ...expectAt, accessToken: 'a.b.c' }
    expect(await rejects(makeProof(es), at)).toMatch(/ath/)
    expect(await rejects(makeProof(es, { payload: { ath: accessTokenHash('a.b.d') } }), at)).toMatch(/ath/)
    expect(await rejects(makeProof(es, { payload: { ath: 42 } }), at)).toMatch(/ath/)
  })
})

describe('verifyDpopProof: properties', () => {
  it('answers any string with InvalidDpopProof, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        await rejects(text)
      }),
      { numRuns: 200 },
    )
  })

  it('refuses every single-character change of a valid proof', async () => {
    const proof = makeProof(es)
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: proof.length - 1 }),
        fc.constantFrom(...'ABCxyz019-_.'),
        async (at, ch) => {
          fc.pre(proof[at] !== ch)
          await rejects(`${proof.slice(0, at)}${ch}${proof.slice(at + 1)}`)
        },
      ),
      { numRuns: 150 },
    )
  })
})

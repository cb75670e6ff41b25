import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  checkSignedRequest,
  decodeSignedRequest,
  GET_CALLER_IDENTITY_BODY,
  type PresentedRequest,
  parseStsUrl,
} from '../../lib/assertion/sigv4-request.js'
import { BrokerError, InvalidRequest } from '../../lib/errors.js'
import { LAMBDA_ROLE } from '../fakes/sts.js'
import { decodeToken, encodeToken, signAs, T } from './aws-iam-fixture.js'

const OPTS = { now: T, serverIds: [] as string[], requireServerId: false }
const valid = async (opts: Parameters<typeof signAs>[1] = {}): Promise<PresentedRequest> =>
  decodeToken(await signAs(LAMBDA_ROLE, opts))

describe('parseStsUrl', () => {
  it('accepts the global and regional endpoints', () => {
    expect(parseStsUrl('https://sts.amazonaws.com/')).toEqual({
      host: 'sts.amazonaws.com',
      region: 'us-east-1',
    })
    expect(parseStsUrl('https://sts.ap-southeast-2.amazonaws.com/')).toEqual({
      host: 'sts.ap-southeast-2.amazonaws.com',
      region: 'ap-southeast-2',
    })
    expect(parseStsUrl('https://sts.us-gov-west-1.amazonaws.com/')?.region).toBe('us-gov-west-1')
  })

  it('accepts nothing but https://sts[.<region>].amazonaws.com/ exactly (property, random URLs)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (url) => {
        const got = parseStsUrl(url)
        return (
          got === undefined ||
          (url === `https://${got.host}/` && /^sts(\.[a-z0-9-]+)?\.amazonaws\.com$/.test(got.host))
        )
      }),
    )
  })

  it('refuses any text added before or after an allowed URL (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.string({ unit: 'binary', maxLength: 20 }),
        (a, b) => {
          fc.pre(a !== '' || b !== '')
          return parseStsUrl(`${a}https://sts.amazonaws.com/${b}`) === undefined
        },
      ),
    )
  })
})

describe('decodeSignedRequest', () => {
  it('decodes a client-made token', async () => {
    const r = decodeSignedRequest(await signAs())
    expect(r.body).toBe(GET_CALLER_IDENTITY_BODY)
    expect(r.method).toBe('POST')
  })

  it('throws only InvalidRequest for arbitrary input (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.base64String({ maxLength: 300 })),
        (t) => {
          try {
            decodeSignedRequest(t)
            return true
          } catch (err) {
            return err instanceof InvalidRequest
          }
        },
      ),
    )
  })

  it('throws only InvalidRequest for arbitrary JSON values (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeSignedRequest(encodeToken(v))
          return true
        } catch (err) {
          return err instanceof InvalidRequest
        }
      }),
    )
  })

  it('refuses base64url with non-zero trailing bits (non-canonical)', () => {
    const t = encodeToken({ method: 'POST', url: 'u', headers: {}, body: 'b' })
    // Flip the last character to a sibling that decodes to the same bytes with different padding bits.
    const last = t.at(-1) as string
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const sibling = alphabet[alphabet.indexOf(last) + 1] as string
    expect(() => decodeSignedRequest(t.slice(0, -1) + sibling)).toThrow(InvalidRequest)
  })

  it('refuses invalid UTF-8', () => {
    expect(() => decodeSignedRequest(Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url'))).toThrow(/UTF-8/)
  })

  it('refuses more than 16 headers', async () => {
    const r = await valid()
    const headers = {
      ...r.headers,
      ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`x-${i}`, 'v'])),
    }
    expect(() => decodeSignedRequest(encodeToken({ ...r, headers }))).toThrow(InvalidRequest)
  })
})

describe('checkSignedRequest', () => {
  it('passes a client-made request and prepares it for forwarding', async () => {
    const c = checkSignedRequest(await valid({ region: 'eu-west-1' }), OPTS)
    expect(c.host).toBe('sts.eu-west-1.amazonaws.com')
    expect(c.region).toBe('eu-west-1')
    expect(c.accessKeyId).toBe(LAMBDA_ROLE.accessKeyId)
    expect(c.headers.host).toBe('sts.eu-west-1.amazonaws.com')
    expect(c.headers['content-length']).toBeUndefined()
    expect(c.serverId).toBeUndefined()
  })

  it('accepts X-Amz-Date exactly 5 minutes away either way', async () => {
    const r = await valid()
    expect(() => checkSignedRequest(r, { ...OPTS, now: T + 5 * 60_000 })).not.toThrow()
    expect(() => checkSignedRequest(r, { ...OPTS, now: T - 5 * 60_000 })).not.toThrow()
  })

  it('refuses X-Amz-Date 5 minutes and 1 second away', async () => {
    const r = await valid()
    expect(() => checkSignedRequest(r, { ...OPTS, now: T + 301_000 })).toThrow(/5 minutes/)
    expect(() => checkSignedRequest(r, { ...OPTS, now: T - 301_000 })).toThrow(/5 minutes/)
  })

  it('accepts a server id only when it is one of the configured ones (property)', async () => {
    const r = await valid({ serverId: 'tessera-prod' })
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 3 }), (ids) => {
        try {
          checkSignedRequest(r, { ...OPTS, serverIds: ids })
          return ids.includes('tessera-prod')
        } catch (err) {
          return err instanceof BrokerError && !ids.includes('tessera-prod')
        }
      }),
    )
  })

  it('refuses unsorted SignedHeaders', async () => {
    const r = await valid()
    r.headers.authorization = (r.headers.authorization as string).replace(
      /SignedHeaders=([^,]+)/,
      (_m, list: string) => `SignedHeaders=${list.split(';').reverse().join(';')}`,
    )
    expect(() => checkSignedRequest(r, OPTS)).toThrow(/sorted/)
  })

  it('refuses a signed header that is missing from the request', async () => {
    const r = await valid()
    delete r.headers['content-type']
    expect(() => checkSignedRequest(r, OPTS)).toThrow(/missing/)
  })

  it('refuses a malformed header name', async () => {
    const r = await valid()
    r.headers['x amz'] = '1'
    expect(() => checkSignedRequest(r, OPTS)).toThrow(/header name/)
  })

  it('refuses a wrong X-Amz-Content-Sha256', async () => {
    const r = await valid()
    r.headers['x-amz-content-sha256'] = '0'.repeat(64)
    expect(() => checkSignedRequest(r, OPTS)).toThrow(/Sha256/)
  })

  it('refuses a missing X-Amz-Date', async () => {
    const r = await valid()
    delete r.headers['x-amz-date']
    expect(() => checkSignedRequest(r, OPTS)).toThrow(/X-Amz-Date/)
  })
})

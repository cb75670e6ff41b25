import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exchangeCommand, formatResult } from '../../lib/cli/exchange.js'
import { type FakeImds, startFakeImds } from '../fakes/imds.js'
import { runSpec } from './run-command.js'

let imds: FakeImds
const audiences: string[] = []
const saved = process.env.TESSERA_IMDS_ENDPOINT
beforeAll(async () => {
  imds = await startFakeImds({
    gcpIdentity: (audience) => {
      audiences.push(audience)
      return 'eyJhbGciOiJSUzI1NiJ9.e30.sig'
    },
  })
  process.env.TESSERA_IMDS_ENDPOINT = imds.endpoint
})
afterAll(async () => {
  if (saved === undefined) delete process.env.TESSERA_IMDS_ENDPOINT
  else process.env.TESSERA_IMDS_ENDPOINT = saved
  await imds.close()
})

describe('tessera exchange --instance gcp', () => {
  it('asks Google for an identity token addressed to the broker (--url), never to the downstream --audience', async () => {
    // Nothing listens on port 9: the exchange itself fails after the metadata call, which is what we inspect.
    const broker = 'http://127.0.0.1:9'
    const r = await runSpec(
      exchangeCommand,
      ['--instance', 'gcp', '--url', broker, '--audience', 'https://api.example.com'],
      { fetch: globalThis.fetch },
    )
    expect(r.code).toBe(1)
    expect(audiences).toEqual([broker])
  })
})

describe('formatResult --format token', () => {
  it('prints the bare access token', () => {
    expect(formatResult({ access_token: 'abc.def.ghi', token_type: 'Bearer' }, 'token')).toBe('abc.def.ghi')
  })

  it('refuses an answer without a string access token instead of printing "undefined"', () => {
    for (const body of [{}, { access_token: 42 }, { access_token: '' }, { aws_access_key_id: 'ASIA' }]) {
      expect(() => formatResult(body, 'token')).toThrow(/without an access token/)
    }
  })
})

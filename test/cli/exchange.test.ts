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

describe('formatResult --format env and credential-process', () => {
  it('says a token grant answered (the grant is chosen by --audience/--resource, not by --format)', () => {
    for (const format of ['env', 'credential-process'] as const) {
      expect(() => formatResult({ access_token: 'abc.def.ghi', token_type: 'Bearer' }, format)).toThrow(
        'the broker granted an access token, not AWS credentials: use --format json or token (the grant is chosen by --audience or --resource)',
      )
    }
  })

  it('refuses an answer that is neither', () => {
    expect(() => formatResult({ aws_access_key_id: 'lower-case' }, 'env')).toThrow(
      'the broker did not answer with AWS credentials',
    )
  })
})

describe('tessera exchange: errors that say what to do', () => {
  it('a broker that is down: the URL and the cause, exit 1', async () => {
    const r = await runSpec(
      exchangeCommand,
      ['--url', 'http://127.0.0.1:9', '--token', 'x', '--audience', 'a'],
      {
        fetch: () =>
          Promise.reject(
            new TypeError('fetch failed', {
              cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
            }),
          ),
      },
    )
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'tessera exchange: cannot reach http://127.0.0.1:9/.well-known/oauth-authorization-server: connect ECONNREFUSED 127.0.0.1:9 (is tessera serve running there?)\n',
    })
  })

  it('a timeout and an unknown host say so', async () => {
    const timeout = await runSpec(
      exchangeCommand,
      ['--url', 'http://127.0.0.1:9', '--token', 'x', '--audience', 'a'],
      {
        fetch: () =>
          Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      },
    )
    expect(timeout.stderr).toMatch(/: no answer in time \(is the broker running and reachable\?\)\n$/)
    const dns = await runSpec(
      exchangeCommand,
      ['--url', 'https://sts.invalid', '--token', 'x', '--audience', 'a'],
      {
        fetch: () =>
          Promise.reject(
            new TypeError('fetch failed', {
              cause: Object.assign(new Error('getaddrinfo ENOTFOUND sts.invalid'), { code: 'ENOTFOUND' }),
            }),
          ),
      },
    )
    expect(dns.stderr).toBe(
      'tessera exchange: cannot reach https://sts.invalid/.well-known/oauth-authorization-server: getaddrinfo ENOTFOUND sts.invalid (check the host name in --url)\n',
    )
  })

  it.each([
    [['--token', 'x']],
    [['--audience', 'a']],
    [['--token', 'x', '--aws-iam', '--audience', 'a']],
    [['--token', 'x', '--audience', 'a', '--format', 'yaml']],
    [['--instance', 'ibm', '--audience', 'a']],
    [['--token', 'x', '--caller-identity', '--audience', 'a']],
  ])('usage mistakes exit 2 with the usage line: %j', async (argv) => {
    const r = await runSpec(exchangeCommand, argv)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^tessera exchange: .+\nusage: tessera exchange /)
  })
})

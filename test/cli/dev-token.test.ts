import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { devTokenCommand } from '../../lib/cli/dev-token.js'
import { PRESET_NAMES } from '../../lib/config/presets.js'
import { runSpec } from './run-command.js'

const env = { TESSERA_HOME: mkdtempSync(join(tmpdir(), 'tessera-devtoken-')) }
const URL = 'http://127.0.0.1:8787'

async function token(argv: string[]) {
  const r = await runSpec(devTokenCommand, argv, { env })
  expect(r.code, r.stderr).toBe(0)
  return { header: decodeProtectedHeader(r.stdout.trim()), claims: decodeJwt(r.stdout.trim()) }
}

describe('tessera dev-token', () => {
  it('signs for the dev issuer under --url, audience the broker, with typed claims', async () => {
    const { header, claims } = await token(['--sub', 's', '--claim', 'env=prod', '--claim', 'n:=42'])
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' })
    expect(claims).toMatchObject({ iss: `${URL}/dev`, aud: URL, sub: 's', env: 'prod', n: 42 })
    expect((claims.exp as number) - (claims.iat as number)).toBe(300)
  })

  it.each(PRESET_NAMES)(
    '--preset %s: the preset stand-in issuer and that issuer’s claim shapes',
    async (preset) => {
      const { claims } = await token(['--preset', preset])
      expect(claims.iss).toBe(`${URL}/dev/${preset}`)
      expect(typeof claims.sub).toBe('string')
    },
  )

  it('--preset github-actions: the claims GitHub sends, all strings, overridable', async () => {
    const { claims } = await token(['--preset', 'github-actions', '--claim', 'ref=refs/heads/dev'])
    expect(claims).toMatchObject({
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      repository_id: '892345671',
      repository_owner_id: '1234567',
      job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
      ref: 'refs/heads/dev',
    })
    const { iss: _i, sub: _s, aud: _a, exp: _e, iat: _t, jti: _j, ...rest } = claims
    for (const v of Object.values(rest)) expect(typeof v).toBe('string')
  })

  it.each([
    [[], /--sub is required/],
    [['--sub', 's', '--claim', 'iss=x'], /--claim iss: set registered claims with their own flags/],
    [['--sub', 's', '--claim', 'novalue'], /use key=value or key:=json/],
    [['--sub', 's', '--claim', 'n:={'], /needs a JSON value/],
    [['--sub', 's', '--ttl', '2h'], /--ttl must be a duration up to 1h/],
    [['--sub', 's', '--aud', 'a', '--audience', 'b'], /give the audience once/],
    [['--preset', 'circleci'], /--preset must be one of github-actions/],
  ])('refuses %j as a usage error (exit 2)', async (argv, message) => {
    const r = await runSpec(devTokenCommand, argv, { env })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(message)
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { configShowCommand, maskSecrets } from '../../lib/cli/config-show.js'
import { runSpec } from './run-command.js'

const DIR = mkdtempSync(join(tmpdir(), 'tessera-config-show-'))

describe('tessera config show', () => {
  it('without --config prints the built-in example the broker runs, defaults filled in', async () => {
    const r = await runSpec(configShowCommand, [])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^# effective config of built-in example: defaults filled in, secrets masked\n/)
    const shown = parse(r.stdout)
    expect(shown.issuer).toBe('http://127.0.0.1:8787')
    expect(shown.providers[0]).toMatchObject({ name: 'dev', issuer: 'http://127.0.0.1:8787/dev' })
    expect(shown.policies.map((p: { name: string }) => p.name)).toEqual(['deploy-app', 'broker-admin'])
  })

  it('with --config shows preset defaults the file left out', async () => {
    const file = join(DIR, 't.yaml')
    writeFileSync(
      file,
      'issuer: https://sts.example.com\nproviders:\n  - { name: gha, kind: oidc, preset: github-actions, audiences: [https://sts.example.com] }\n',
    )
    const r = await runSpec(configShowCommand, ['--config', file])
    expect(r.code).toBe(0)
    expect(parse(r.stdout).providers[0]).toMatchObject({
      issuer: 'https://token.actions.githubusercontent.com',
      algorithms: ['RS256'],
      replay: 'allow',
    })
  })

  it('an invalid or missing config exits 1 with the problems', async () => {
    const bad = join(DIR, 'bad.yaml')
    writeFileSync(bad, 'issuer: https://sts.example.com\nprovidrs: []\n')
    const r = await runSpec(configShowCommand, ['--config', bad])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain("bad.yaml:2:1: providrs: unknown key 'providrs'")
    expect((await runSpec(configShowCommand, ['--config', join(DIR, 'none.yaml')])).code).toBe(1)
  })

  it('masks secrets at any depth and keeps everything else', () => {
    expect(
      maskSecrets({
        github: { apps: [{ name: 'a', privateKey: { local: 'app.pem' } }] },
        notify: { webhook: 'https://hooks.example.com/T0/B0/secret' },
        clientSecret: 's',
        issuer: 'https://sts.example.com',
        list: [1, null, 'x'],
      }),
    ).toEqual({
      github: { apps: [{ name: 'a', privateKey: '***' }] },
      notify: { webhook: '***' },
      clientSecret: '***',
      issuer: 'https://sts.example.com',
      list: [1, null, 'x'],
    })
  })
})

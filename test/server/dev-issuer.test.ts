import { homedir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfigText } from '../../lib/config/load.js'
import { devIssuerKeyFile, devIssuerWarning, trustDevIssuer } from '../../lib/server/dev-issuer.js'

const BROKER = 'http://127.0.0.1:8787'
const { config } = loadConfigText(
  `issuer: ${BROKER}
providers:
  - { name: gha, kind: oidc, preset: github-actions, audiences: ["${BROKER}"] }
  - { name: gl, kind: oidc, preset: gitlab, issuer: https://gitlab.example.com, audiences: ["${BROKER}"] }
  - { name: corp, kind: oidc, issuer: https://idp.example.com, audiences: ["${BROKER}"] }
  - { name: fleet, kind: aws-iam, accounts: ["111122223333"] }
`,
  't.yaml',
)

describe('trustDevIssuer (serve --dev-issuer)', () => {
  const { config: dev, standIns } = trustDevIssuer(config, BROKER)

  it('points every preset provider at its stand-in issuer, ES256, the dev JWKS', () => {
    expect(dev.providers[0]).toMatchObject({
      name: 'gha',
      issuer: `${BROKER}/dev/github-actions`,
      issuerAliases: [],
      jwksUri: `${BROKER}/dev/jwks.json`,
      algorithms: ['ES256'],
    })
    // An explicit issuer (GitLab self-managed) is replaced too, and reported.
    expect(dev.providers[1]).toMatchObject({ issuer: `${BROKER}/dev/gitlab` })
    expect(standIns).toEqual([
      {
        provider: 'gha',
        preset: 'github-actions',
        replaced: 'https://token.actions.githubusercontent.com',
        issuer: `${BROKER}/dev/github-actions`,
      },
      {
        provider: 'gl',
        preset: 'gitlab',
        replaced: 'https://gitlab.example.com',
        issuer: `${BROKER}/dev/gitlab`,
      },
    ])
  })

  it('leaves providers without a preset, and the original config, alone', () => {
    expect(dev.providers[2]).toBe(config.providers[2])
    expect(dev.providers[3]).toBe(config.providers[3])
    expect(config.providers[0]).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com' })
  })

  it('the warning names the dev issuer, its key file and every replaced issuer', () => {
    const text = devIssuerWarning(BROKER, standIns, '/k.json')
    expect(text).toContain(`WARNING: this broker trusts a DEVELOPMENT issuer at ${BROKER}/dev\n`)
    expect(text).toContain('its private key is /k.json')
    expect(text).toContain(
      `provider gl (preset gitlab) trusts ${BROKER}/dev/gitlab instead of https://gitlab.example.com`,
    )
  })
})

describe('devIssuerKeyFile', () => {
  it('is one per user, whatever the current folder; TESSERA_HOME moves it', () => {
    expect(devIssuerKeyFile({})).toBe(join(homedir(), '.tessera', 'dev-issuer-key.json'))
    expect(devIssuerKeyFile({ TESSERA_HOME: '/srv/t' })).toBe('/srv/t/dev-issuer-key.json')
    expect(devIssuerKeyFile({ TESSERA_HOME: '  ' })).toBe(join(homedir(), '.tessera', 'dev-issuer-key.json'))
  })
})

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// infra/iam-roles.cjs: only the token function may sign with the GitHub App keys of `githubAppKeyArns`.
type Statement = { Sid: string; Action: string[]; Resource: unknown[] }
type Needs = { dynamodb: string[]; kms?: string[]; sts?: string[] }
const roles = createRequire(import.meta.url)('../../infra/iam-roles.cjs') as {
  githubAppKeyArns: (resolveVariable: (v: string) => Promise<unknown>) => Promise<string[]>
  statementsFor: (fn: string, needs: Needs, roles: string[], githubKeys: string[]) => Statement[]
  configuredGithubKeyArns: (root: string) => string[] | undefined
  checkGithubKeys: (configured: string[] | undefined, allowed: string[]) => void
}

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const MRK = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab'

const keysFor = (value: string | null) =>
  roles.githubAppKeyArns(async (v) => (v === 'param:githubAppKeyArns, null' ? value : undefined))

const NEEDS: Record<string, Needs> = {
  token: { kms: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'], dynamodb: ['dynamodb:PutItem'] },
  jwks: { kms: ['kms:GetPublicKey', 'kms:DescribeKey'], dynamodb: [] },
  revoke: { kms: ['kms:GetPublicKey', 'kms:DescribeKey'], dynamodb: ['dynamodb:PutItem'] },
}
const statements = (fn: string, keys: string[]) => roles.statementsFor(fn, NEEDS[fn] as Needs, [], keys)

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('githubAppKeyArns', () => {
  it('lets only the token function DescribeKey, GetPublicKey and Sign with the listed keys', async () => {
    const keys = await keysFor(`${KEY}, ${MRK},${KEY}`)
    expect(keys).toEqual([KEY, MRK])
    const sign = statements('token', keys).find((s) => s.Sid === 'SignGithubAppJwts')
    expect(sign?.Action.sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign'])
    expect(sign?.Resource).toEqual([KEY, MRK])
    for (const fn of ['jwks', 'revoke']) expect(JSON.stringify(statements(fn, keys)), fn).not.toContain(KEY)
  })

  it('absent or none: no key, no statement', async () => {
    for (const value of [null, 'none', '']) {
      const keys = await keysFor(value)
      expect(keys).toEqual([])
      expect(statements('token', keys).some((s) => s.Sid === 'SignGithubAppJwts')).toBe(false)
    }
  })

  it('refuses aliases, wildcards and other ARNs', async () => {
    for (const value of [
      'alias/tessera-github-ci-bot',
      'arn:aws:kms:us-east-1:111122223333:alias/github',
      'arn:aws:kms:us-east-1:111122223333:key/*',
      '*',
      'arn:aws:iam::111122223333:role/x',
    ]) {
      await expect(keysFor(value), value).rejects.toThrow(/githubAppKeyArns: not a KMS key ARN/)
    }
  })

  it('refuses to package a config whose App key ARN is not listed; aliases cannot be checked', () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-gh-keys-'))
    dirs.push(root)
    mkdirSync(join(root, 'dist', 'token'), { recursive: true })
    const apps = [
      { name: 'a', appId: '1', privateKey: { kms: KEY } },
      { name: 'b', appId: '2', privateKey: { kms: 'alias/b' } },
      { name: 'c', appId: '3', privateKey: { local: 'c.pem' } },
    ]
    writeFileSync(join(root, 'dist', 'token', 'tessera.json'), JSON.stringify({ github: { apps } }))
    const configured = roles.configuredGithubKeyArns(root)
    expect(configured).toEqual([KEY])
    expect(() => roles.checkGithubKeys(configured, [])).toThrow(/githubAppKeyArns lacks key\(s\)/)
    expect(() => roles.checkGithubKeys(configured, [KEY])).not.toThrow()
    expect(() => roles.checkGithubKeys(undefined, [])).not.toThrow()
  })
})

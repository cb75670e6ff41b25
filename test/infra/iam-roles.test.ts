import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// infra/iam-roles.cjs refuses to package a config whose `aws` grants name a role the token
// function's role may not assume (every such exchange would fail at run time with invalid_target).
const { grantedRoleArns, checkGrantedRoles } = createRequire(import.meta.url)(
  '../../infra/iam-roles.cjs',
) as {
  grantedRoleArns: (root: string) => string[] | undefined
  checkGrantedRoles: (granted: string[] | undefined, roles: string[]) => void
}

const DEPLOY = 'arn:aws:iam::444455556666:role/deploy'
const READ = 'arn:aws:iam::444455556666:role/read'
const roots: string[] = []
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true })
})

/** A service root with a bundled config whose policies grant `arns` (and one token grant). */
function bundled(arns: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'tessera-roles-'))
  roots.push(root)
  mkdirSync(join(root, 'dist', 'token'), { recursive: true })
  const policies = [
    ...arns.map((roleArn, i) => ({ name: `p${i}`, grant: { aws: { roleArn, duration: 900 } } })),
    { name: 'tok', grant: { token: { audience: ['https://api.example.com'] } } },
  ]
  writeFileSync(join(root, 'dist', 'token', 'tessera.json'), JSON.stringify({ policies }))
  return root
}

describe('granted roles vs assumableRoleArns', () => {
  it('reads the distinct role ARNs the bundled config grants', () => {
    expect(grantedRoleArns(bundled([DEPLOY, READ, DEPLOY]))?.sort()).toEqual([DEPLOY, READ])
  })

  it('passes when every granted role is assumable', () => {
    expect(() => checkGrantedRoles([DEPLOY, READ], [READ, DEPLOY, 'arn:aws:iam::1:role/x'])).not.toThrow()
  })

  it('refuses a granted role missing from assumableRoleArns, naming it', () => {
    expect(() => checkGrantedRoles([DEPLOY, READ], [DEPLOY])).toThrow(
      /assumableRoleArns lacks role\(s\) the bundled config grants: arn:aws:iam::444455556666:role\/read/,
    )
  })

  it('refuses any aws grant when assumableRoleArns=none', () => {
    expect(() => checkGrantedRoles(grantedRoleArns(bundled([DEPLOY])), [])).toThrow(/role\/deploy/)
  })

  it('a config without aws grants, or no bundled config at all, needs nothing', () => {
    expect(grantedRoleArns(bundled([]))).toEqual([])
    expect(() => checkGrantedRoles(grantedRoleArns(bundled([])), [])).not.toThrow()
    const empty = mkdtempSync(join(tmpdir(), 'tessera-roles-'))
    roots.push(empty)
    expect(grantedRoleArns(empty)).toBeUndefined()
    expect(() => checkGrantedRoles(undefined, [])).not.toThrow()
  })
})

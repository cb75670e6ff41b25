import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name)
const ROLES = [
  'arn:aws:iam::111122223333:role/tessera-example-deploy',
  'arn:aws:iam::111122223333:role/tessera-example-read',
]
const FUNCTIONS = ['token', 'jwks', 'metadata', 'introspect', 'revoke', 'health', 'nonce']

// Offline: no AWS credentials or profile at all, as in CI before any AWS account is involved.
const offlineEnv = (() => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  }
  for (const k of Object.keys(env)) if (/^AWS_(ACCESS|SECRET|SESSION|PROFILE)/.test(k)) delete env[k]
  return env
})()

interface Statement {
  Sid?: string
  Effect: string
  Action: string | string[]
  Resource: unknown
  Principal?: unknown
}
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON; assertions check shapes.
type Resources = Record<string, { Type: string; Properties: Record<string, any> }>

const dirs: string[] = []
async function packageWith(param: string | undefined): Promise<{ ok: boolean; out: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sls-'))
  dirs.push(dir)
  const args = [
    'package',
    '--stage',
    'prod',
    '--package',
    dir,
    ...(param === undefined ? [] : [`--param=${param}`]),
  ]
  try {
    const { stdout, stderr } = await run(bin('osls'), args, { cwd: ROOT, env: offlineEnv, timeout: 90_000 })
    return { ok: true, out: stdout + stderr, dir }
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}`, dir }
  }
}
const template = (dir: string): Resources =>
  JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')).Resources
const ofType = (r: Resources, type: string) => Object.entries(r).filter(([, v]) => v.Type === type)
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v])
const roleStatements = (r: Resources): Statement[] =>
  r.IamRoleLambdaExecution!.Properties.Policies.flatMap(
    (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
  )
const statementsWith = (r: Resources, action: string) =>
  roleStatements(r).filter((s) => list(s.Action).includes(action))

let withRoles: Resources
let withoutRoles: Resources
let missing: { ok: boolean; out: string }
let wildcard: { ok: boolean; out: string }

beforeAll(async () => {
  await run(bin('tsx'), [join(ROOT, 'scripts', 'bundle.ts')], {
    cwd: ROOT,
    env: offlineEnv,
    timeout: 90_000,
  })
  // One at a time: osls stages every package in the service's own .serverless/ directory and
  // deletes it afterwards, so concurrent runs in one checkout race on that directory.
  const a = await packageWith(`assumableRoleArns=${ROLES.join(',')}`)
  const b = await packageWith('assumableRoleArns=none')
  const c = await packageWith(undefined)
  const d = await packageWith('assumableRoleArns=arn:aws:iam::111122223333:role/*')
  if (!a.ok || !b.ok) throw new Error(`osls package failed:\n${a.out}\n${b.out}`)
  withRoles = template(a.dir)
  withoutRoles = template(b.dir)
  missing = c
  wildcard = d
}, 180_000)
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('serverless package (offline)', () => {
  it('signing keys are ECC_NIST_P256 / SIGN_VERIFY with aliases', () => {
    const keys = ofType(withRoles, 'AWS::KMS::Key')
    expect(keys.length).toBe(2)
    for (const [, key] of keys) {
      expect(key.Properties.KeySpec).toBe('ECC_NIST_P256')
      expect(key.Properties.KeyUsage).toBe('SIGN_VERIFY')
    }
    const targets = ofType(withRoles, 'AWS::KMS::Alias').map(([, a]) => a.Properties.TargetKeyId.Ref)
    expect(targets.sort()).toEqual(keys.map(([id]) => id).sort())
  })

  it('key policies give kms:* only to the account root (AWS requires it), never to the function role', () => {
    for (const [, key] of ofType(withRoles, 'AWS::KMS::Key')) {
      for (const s of key.Properties.KeyPolicy.Statement as Statement[]) {
        expect(JSON.stringify(s.Principal)).toMatch(/:iam::\$\{AWS::AccountId\}:root/)
        expect(JSON.stringify(s.Principal)).not.toContain('IamRoleLambdaExecution')
      }
    }
  })

  it('no role statement has a * action or a * resource', () => {
    for (const s of roleStatements(withRoles)) {
      for (const a of list(s.Action)) expect(a).not.toMatch(/^\*$|:\*$/)
      for (const r of list(s.Resource)) expect(r).not.toBe('*')
      expect(s.Effect).toBe('Allow')
    }
  })

  it('kms:Sign, GetPublicKey, DescribeKey apply to the signing key ARNs only', () => {
    const [s, ...rest] = statementsWith(withRoles, 'kms:Sign')
    expect(rest).toEqual([])
    expect(list(s!.Action).sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign'])
    const keyIds = ofType(withRoles, 'AWS::KMS::Key').map(([id]) => id)
    expect(s!.Resource).toEqual(keyIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })))
    const kmsActions = roleStatements(withRoles).flatMap((x) =>
      list(x.Action).filter((a) => a.startsWith('kms:')),
    )
    expect(kmsActions.sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign'])
  })

  it('DynamoDB actions are exactly PutItem/GetItem/Query/DeleteItem on the state table', () => {
    const ddb = roleStatements(withRoles).filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')))
    expect(ddb.length).toBe(1)
    expect(list(ddb[0]!.Action).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ])
    expect(ddb[0]!.Resource).toEqual([{ 'Fn::GetAtt': ['StateTable', 'Arn'] }])
  })

  it('STS actions apply only to the role ARNs the deployment names', () => {
    const sts = roleStatements(withRoles).filter((s) => list(s.Action).some((a) => a.startsWith('sts:')))
    expect(sts.length).toBe(1)
    expect(list(sts[0]!.Action).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'])
    expect(sts[0]!.Resource).toEqual(ROLES)
  })

  it('assumableRoleArns=none grants no STS action at all', () => {
    const actions = roleStatements(withoutRoles).flatMap((s) => list(s.Action))
    expect(actions.filter((a) => a.startsWith('sts:'))).toEqual([])
  })

  it('refuses to package without assumableRoleArns, naming the parameter', () => {
    expect(missing.ok).toBe(false)
    expect(missing.out).toMatch(/missing required parameter assumableRoleArns/)
  })

  it('refuses a wildcard role ARN', () => {
    expect(wildcard.ok).toBe(false)
    expect(wildcard.out).toMatch(/wildcards are not allowed/)
  })

  it('every log group has a retention period', () => {
    const groups = ofType(withRoles, 'AWS::Logs::LogGroup')
    expect(groups.length).toBe(FUNCTIONS.length + 1) // + HTTP API access log
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(30)
  })

  it('the DynamoDB table has pk/sk, TTL on expiresAt, on-demand billing, PITR and SSE, no index', () => {
    const [[, table] = []] = ofType(withRoles, 'AWS::DynamoDB::Table')
    const p = table!.Properties
    expect(p.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ])
    expect(p.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ])
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true })
    expect(p.BillingMode).toBe('PAY_PER_REQUEST')
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true })
    expect(p.SSESpecification).toEqual({ SSEEnabled: true })
    expect(p.GlobalSecondaryIndexes).toBeUndefined()
    expect(p.LocalSecondaryIndexes).toBeUndefined()
  })

  // ANY routes: a wrong method reaches the handler, which answers the contract's JSON 405 (API
  // Gateway's own answer would be a bare 404).
  it('one HTTP API route per endpoint, nothing else', () => {
    const routes = ofType(withRoles, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey)
    expect(routes.sort()).toEqual(
      [
        'ANY /token',
        'ANY /.well-known/jwks.json',
        'ANY /.well-known/oauth-authorization-server',
        'ANY /.well-known/openid-configuration',
        'ANY /introspect',
        'ANY /revoke',
        'ANY /healthz',
        'ANY /nonce',
      ].sort(),
    )
  })

  it('functions run the pre-built bundles on nodejs20.x / arm64', () => {
    const fns = ofType(withRoles, 'AWS::Lambda::Function')
    expect(fns.length).toBe(FUNCTIONS.length)
    for (const [, f] of fns) {
      expect(f.Properties.Runtime).toBe('nodejs20.x')
      expect(f.Properties.Architectures).toEqual(['arm64'])
      expect(f.Properties.Handler).toMatch(/^dist\/[a-z]+\/index\.handler$/)
    }
  })
})

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
async function packageWith(
  param: string | undefined,
  stage = 'prod',
): Promise<{ ok: boolean; out: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sls-'))
  dirs.push(dir)
  const args = [
    'package',
    '--stage',
    stage,
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
const policyStatements = (role: Resources[string]): Statement[] =>
  role.Properties.Policies.flatMap(
    (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
  )
/** Every statement of every IAM role in the template. */
const roleStatements = (r: Resources): Statement[] =>
  ofType(r, 'AWS::IAM::Role').flatMap(([, role]) => policyStatements(role))
/** `token` -> `Token`, osls's prefix for a function's resources. */
const cap = (fn: string) => fn.charAt(0).toUpperCase() + fn.slice(1)
/** The statements of the role `fn`'s Lambda function runs as. */
function functionStatements(r: Resources, fn: string): Statement[] {
  const roleId = r[`${cap(fn)}LambdaFunction`]!.Properties.Role['Fn::GetAtt'][0] as string
  return policyStatements(r[roleId]!)
}
const actionsOf = (statements: Statement[], prefix: string) =>
  statements.flatMap((s) => list(s.Action).filter((a) => a.startsWith(prefix))).sort()
const KEY_ARNS = [{ 'Fn::GetAtt': ['SigningKeyBlue', 'Arn'] }, { 'Fn::GetAtt': ['SigningKeyGreen', 'Arn'] }]

let withRoles: Resources
let withoutRoles: Resources
let missing: { ok: boolean; out: string }
let wildcard: { ok: boolean; out: string }
let longStage: { ok: boolean; out: string }

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
  longStage = await packageWith('assumableRoleArns=none', 'preview-feature-branch-with-a-long-name')
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
        for (const [roleId] of ofType(withRoles, 'AWS::IAM::Role'))
          expect(JSON.stringify(s.Principal)).not.toContain(roleId)
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

  it('each function runs as its own role, assumable by Lambda only; no shared role', () => {
    expect(withRoles.IamRoleLambdaExecution).toBeUndefined()
    const roleIds = FUNCTIONS.map(
      (fn) => withRoles[`${cap(fn)}LambdaFunction`]!.Properties.Role['Fn::GetAtt'][0] as string,
    )
    expect(new Set(roleIds).size).toBe(FUNCTIONS.length)
    expect(ofType(withRoles, 'AWS::IAM::Role').length).toBe(FUNCTIONS.length)
    for (const id of roleIds) {
      const trust = withRoles[id]!.Properties.AssumeRolePolicyDocument.Statement as Statement[]
      expect(trust).toEqual([
        { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
      ])
    }
  })

  it('the token role keeps the name target roles trust (tessera-<stage>-<region>); the others add their function', () => {
    const nameOf = (fn: string) =>
      withRoles[withRoles[`${cap(fn)}LambdaFunction`]!.Properties.Role['Fn::GetAtt'][0]]!.Properties.RoleName
    expect(nameOf('token')).toBe('tessera-prod-us-east-1')
    for (const fn of FUNCTIONS.filter((f) => f !== 'token'))
      expect(nameOf(fn)).toBe(`tessera-prod-us-east-1-${fn}`)
  })

  it('each role may write logs only to its own function log group', () => {
    for (const fn of FUNCTIONS) {
      const logs = functionStatements(withRoles, fn).filter((s) =>
        list(s.Action).some((a) => a.startsWith('logs:')),
      )
      expect(logs).toHaveLength(1)
      expect(list(logs[0]!.Action).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents'])
      expect(logs[0]!.Resource).toEqual([{ 'Fn::GetAtt': [`${cap(fn)}LogGroup`, 'Arn'] }])
    }
  })

  it('only the token function may kms:Sign; every function reads the public keys; all on the two key ARNs only', () => {
    for (const fn of FUNCTIONS) {
      const statements = functionStatements(withRoles, fn)
      const expected =
        fn === 'token'
          ? ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign']
          : ['kms:DescribeKey', 'kms:GetPublicKey']
      expect(actionsOf(statements, 'kms:')).toEqual(expected)
      for (const s of statements.filter((x) => list(x.Action).some((a) => a.startsWith('kms:'))))
        expect(s.Resource).toEqual(KEY_ARNS)
    }
  })

  it('DynamoDB actions per function are exactly what its code calls, on the state table only', () => {
    const expected: Record<string, string[]> = {
      token: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      introspect: ['dynamodb:Query'],
      revoke: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
      nonce: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      jwks: [],
      metadata: [],
      health: [],
    }
    for (const fn of FUNCTIONS) {
      const statements = functionStatements(withRoles, fn)
      expect(actionsOf(statements, 'dynamodb:')).toEqual(expected[fn])
      for (const s of statements.filter((x) => list(x.Action).some((a) => a.startsWith('dynamodb:'))))
        expect(s.Resource).toEqual([{ 'Fn::GetAtt': ['StateTable', 'Arn'] }])
    }
  })

  it('STS actions belong to the token role only, on exactly the role ARNs the deployment names', () => {
    const sts = functionStatements(withRoles, 'token').filter((s) =>
      list(s.Action).some((a) => a.startsWith('sts:')),
    )
    expect(sts.length).toBe(1)
    expect(list(sts[0]!.Action).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'])
    expect(sts[0]!.Resource).toEqual(ROLES)
    for (const fn of FUNCTIONS.filter((f) => f !== 'token'))
      expect(actionsOf(functionStatements(withRoles, fn), 'sts:')).toEqual([])
  })

  it('assumableRoleArns=none grants no STS action at all', () => {
    const actions = roleStatements(withoutRoles).flatMap((s) => list(s.Action))
    expect(actions.filter((a) => a.startsWith('sts:'))).toEqual([])
  })

  it('refuses a stage name that would make an IAM role name longer than 64 characters', () => {
    expect(longStage.ok).toBe(false)
    expect(longStage.out).toMatch(/exceeds 64 characters: use a shorter stage name/)
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

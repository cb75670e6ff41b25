import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENDPOINTS, endpointNamed } from '../../lib/endpoints/manifest.js'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name)
const ROLES = [
  'arn:aws:iam::111122223333:role/tessera-example-deploy',
  'arn:aws:iam::111122223333:role/tessera-example-read',
]
const FUNCTIONS = ENDPOINTS.map((e) => e.name)

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
  param: string | readonly string[] | undefined,
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
    ...(param === undefined ? [] : [param].flat().map((p) => `--param=${p}`)),
  ]
  try {
    const { stdout, stderr } = await run(bin('osls'), args, { cwd: ROOT, env: offlineEnv, timeout: 90_000 })
    return { ok: true, out: stdout + stderr, dir }
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}`, dir }
  }
}
// biome-ignore lint/suspicious/noExplicitAny: untyped CloudFormation JSON, as above.
type Untyped = any
interface Template {
  Resources: Resources
  Parameters: Record<string, Untyped>
  Conditions: Record<string, Untyped>
  Metadata?: Untyped
}
const document = (dir: string): Template =>
  JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'))
const template = (dir: string): Resources => document(dir).Resources
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
let withTopic: Template
let defaults: Template
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:tessera-alarms'

beforeAll(async () => {
  await run(bin('tsx'), [join(ROOT, 'scripts', 'bundle.ts'), '--allow-empty-config'], {
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
  const e = await packageWith([
    'assumableRoleArns=none',
    `alarmTopicArn=${TOPIC}`,
    'throttleRate=50',
    'throttleBurst=80',
  ])
  if (!a.ok || !b.ok || !e.ok) throw new Error(`osls package failed:\n${a.out}\n${b.out}\n${e.out}`)
  withTopic = document(e.dir)
  defaults = document(b.dir)
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
      expect(actionsOf(statements, 'kms:')).toEqual([...(endpointNamed(fn).aws.kms ?? [])].sort())
      for (const s of statements.filter((x) => list(x.Action).some((a) => a.startsWith('kms:'))))
        expect(s.Resource).toEqual(KEY_ARNS)
    }
  })

  it('DynamoDB actions per function are exactly its manifest entry, on the state table only', () => {
    for (const fn of FUNCTIONS) {
      const statements = functionStatements(withRoles, fn)
      expect(actionsOf(statements, 'dynamodb:')).toEqual([...endpointNamed(fn).aws.dynamodb].sort())
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
  it('one HTTP API route per manifest path, nothing else', () => {
    const routes = ofType(withRoles, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey)
    expect(routes.sort()).toEqual(ENDPOINTS.flatMap((e) => e.paths.map((p) => `ANY ${p}`)).sort())
    expect(routes).toContain('ANY /token')
  })

  it('functions run the pre-built bundles on nodejs24.x / arm64', () => {
    const fns = ofType(withRoles, 'AWS::Lambda::Function')
    expect(fns.length).toBe(FUNCTIONS.length)
    for (const [, f] of fns) {
      expect(f.Properties.Runtime).toBe('nodejs24.x')
      expect(f.Properties.Architectures).toEqual(['arm64'])
      expect(f.Properties.Handler).toMatch(/^dist\/[a-z]+\/index\.handler$/)
    }
  })
})

describe('alarms and throttling in the packaged template', () => {
  const alarms = (t: Template) => ofType(t.Resources, 'AWS::CloudWatch::Alarm')
  const ACTIONS = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'alarmTopicArn' }], { Ref: 'AWS::NoValue' }] }

  it('every alarm notifies alarmTopicArn on ALARM and OK, only when the topic is set', () => {
    expect(alarms(defaults).length).toBeGreaterThanOrEqual(3)
    for (const [, alarm] of alarms(defaults)) {
      expect(alarm.Properties.AlarmActions).toEqual(ACTIONS)
      expect(alarm.Properties.OKActions).toEqual(ACTIONS)
      expect(alarm.Properties.TreatMissingData).toBe('notBreaching')
    }
    expect(defaults.Conditions.HasAlarmTopic).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'alarmTopicArn' }, ''] }],
    })
  })

  it('alarmTopicArn defaults to empty (no actions) and takes the packaged --param value', () => {
    expect(defaults.Parameters.alarmTopicArn.Default).toBe('')
    expect(withTopic.Parameters.alarmTopicArn.Default).toBe(TOPIC)
    const pattern = new RegExp(defaults.Parameters.alarmTopicArn.AllowedPattern)
    expect(pattern.test('')).toBe(true)
    expect(pattern.test(TOPIC)).toBe(true)
    for (const bad of [
      'arn:aws:sqs:us-east-1:111122223333:q',
      'arn:aws:sns:us-east-1:1234:t',
      `${TOPIC} `,
      '*',
    ])
      expect(pattern.test(bad)).toBe(false)
  })

  it('alarms cover token-function 5xx, store/KMS/STS/GitHub errors, throttles and clone alerts', () => {
    const watched = alarms(defaults).map(([, a]) => `${a.Properties.Namespace}/${a.Properties.MetricName}`)
    expect(watched.sort()).toEqual(
      [
        'AWS/ApiGateway/5xx',
        'AWS/Lambda/Errors',
        'Tessera/store_errors',
        'Tessera/kms_errors',
        'Tessera/sts_errors',
        'Tessera/github_errors',
        'Tessera/throttles',
        'Tessera/clone_suspected',
      ].sort(),
    )
    const lambda = alarms(defaults).find(([, a]) => a.Properties.Namespace === 'AWS/Lambda')![1]
    expect(lambda.Properties.Dimensions).toEqual([
      { Name: 'FunctionName', Value: { Ref: 'TokenLambdaFunction' } },
    ])
    const api = alarms(defaults).find(([, a]) => a.Properties.Namespace === 'AWS/ApiGateway')![1]
    expect(api.Properties.Dimensions).toContainEqual({ Name: 'ApiId', Value: { Ref: 'HttpApi' } })
  })

  it('EMF alarms use the one dimension the metrics carry (service=tessera)', () => {
    for (const [, a] of alarms(defaults).filter(([, x]) =>
      /_errors$|^throttles$/.test(x.Properties.MetricName),
    ))
      expect(a.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'tessera' }])
  })

  it('clone alerts are counted by a metric filter on the token function audit log', () => {
    const [[, filter] = []] = ofType(defaults.Resources, 'AWS::Logs::MetricFilter')
    expect(filter!.Properties.LogGroupName).toEqual({ Ref: 'TokenLogGroup' })
    expect(filter!.Properties.FilterPattern).toBe('{ $.event = "instance.clone_suspected" }')
    expect(filter!.Properties.MetricTransformations).toEqual([
      expect.objectContaining({
        MetricNamespace: 'Tessera',
        MetricName: 'clone_suspected',
        MetricValue: '1',
      }),
    ])
  })

  it('the HTTP API stage throttles every route from throttleRate (100) and throttleBurst (200)', () => {
    const [[, stage] = []] = ofType(defaults.Resources, 'AWS::ApiGatewayV2::Stage')
    expect(stage!.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: { Ref: 'throttleRate' },
      ThrottlingBurstLimit: { Ref: 'throttleBurst' },
    })
    expect(defaults.Parameters.throttleRate).toMatchObject({ Type: 'Number', Default: 100 })
    expect(defaults.Parameters.throttleBurst).toMatchObject({ Type: 'Number', Default: 200 })
    expect(String(withTopic.Parameters.throttleRate.Default)).toBe('50')
    expect(String(withTopic.Parameters.throttleBurst.Default)).toBe('80')
  })

  it('nodejs24.x everywhere; the template-wide cfn-lint exception is W3005 only', () => {
    const runtimes = ofType(defaults.Resources, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Runtime)
    expect(new Set(runtimes)).toEqual(new Set(['nodejs24.x']))
    expect(defaults.Metadata).toEqual({ 'cfn-lint': { config: { ignore_checks: ['W3005'] } } })
  })
})

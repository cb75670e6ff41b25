'use strict'
// One IAM role per Lambda function, generated at package time, each allowed exactly the AWS calls
// its own code path makes (a bug or compromise in the public JWKS function cannot sign a token or
// assume a role). No `*` action and no `*` resource: every statement names the ARNs it covers.
//
// The STS statement names exactly the role ARNs this deployment may hand out (required param
// `assumableRoleArns`: comma-separated role ARNs, or `none` for a deployment that grants no AWS
// credentials). Those roles must trust the token function's role, `tessera-<stage>-<region>`.

const { existsSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/
// A KMS key ARN (single- or multi-Region key): IAM grants kms:Sign on key ARNs, never on aliases.
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/

// Logical IDs of the AWS::KMS::Key resources in infra/kms.yml. Renaming one there (to replace a
// retired slot's key material, docs/deploy.md "Rotating keys") means renaming it here too.
const SIGNING_KEYS = ['SigningKeyBlue', 'SigningKeyGreen']

// The one function that signs GitHub app JWTs (the github minter runs in the token exchange).
const GITHUB_APP_SIGNER = 'token'

/**
 * What each function calls, from the endpoint manifest (lib/endpoints/manifest.ts), as
 * scripts/bundle.ts writes it to dist/endpoints.json: `[{ name, paths, aws: { dynamodb, kms?, sts? } }]`.
 * serverless.yml `functions:` has the same names (test/infra/manifest.test.ts checks it).
 */
function endpointNeeds(root) {
  const file = join(root, 'dist', 'endpoints.json')
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run scripts/bundle.ts (npm run build) before packaging`)
  }
  const endpoints = JSON.parse(readFileSync(file, 'utf8'))
  const needs = {}
  for (const e of endpoints) needs[e.name] = e.aws
  return needs
}

/** IAM role names are at most 64 characters. */
const MAX_ROLE_NAME = 64

async function assumableRoleArns(resolveVariable) {
  // `, null` makes an absent param resolve to null (so we can explain it) instead of a generic error.
  const raw = await resolveVariable('param:assumableRoleArns, null')
  if (raw === null || raw === undefined || String(raw).trim() === '') {
    throw new Error(
      'missing required parameter assumableRoleArns: pass --param="assumableRoleArns=arn:aws:iam::123456789012:role/deploy,..." ' +
        '(the exact role ARNs your policies grant) or --param="assumableRoleArns=none"',
    )
  }
  if (String(raw).trim() === 'none') return []
  const arns = String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = arns.filter((a) => !ROLE_ARN.test(a))
  if (bad.length > 0) {
    throw new Error(`assumableRoleArns: not an IAM role ARN (wildcards are not allowed): ${bad.join(', ')}`)
  }
  return [...new Set(arns)]
}

/**
 * Optional param `githubAppKeyArns`: the KMS key ARNs holding GitHub App private keys (comma list,
 * or `none`; absent means none). Only the token function may use them (DescribeKey, GetPublicKey,
 * Sign): it alone signs app JWTs.
 */
async function githubAppKeyArns(resolveVariable) {
  const raw = await resolveVariable('param:githubAppKeyArns, null')
  if (raw === null || raw === undefined || ['', 'none'].includes(String(raw).trim())) return []
  const arns = String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = arns.filter((a) => !KMS_KEY_ARN.test(a))
  if (bad.length > 0) {
    throw new Error(
      `githubAppKeyArns: not a KMS key ARN (aliases and wildcards are not allowed): ${bad.join(', ')}`,
    )
  }
  return [...new Set(arns)]
}

/** The KMS key ARNs the bundled config's GitHub Apps name (aliases and bare ids cannot be checked). */
function configuredGithubKeyArns(root) {
  const file = join(root, 'dist', 'token', 'tessera.json')
  if (!existsSync(file)) return undefined
  const config = JSON.parse(readFileSync(file, 'utf8'))
  const keys = (config.github?.apps ?? []).flatMap((a) => (a.privateKey?.kms ? [a.privateKey.kms] : []))
  return [...new Set(keys.filter((k) => KMS_KEY_ARN.test(k)))]
}

/** A GitHub App key the token role may not use would fail every github exchange: refuse to package it. */
function checkGithubKeys(configured, allowed) {
  const missing = (configured ?? []).filter((arn) => !allowed.includes(arn))
  if (missing.length > 0) {
    throw new Error(
      `githubAppKeyArns lacks key(s) the bundled config's GitHub Apps use: ${missing.join(', ')} ` +
        '(add them to --param="githubAppKeyArns=...")',
    )
  }
}

/**
 * The role ARNs the bundled config's `aws` grants hand out (`dist/token/tessera.json`, written by
 * scripts/bundle.ts), or undefined when no config is bundled (a template-only package).
 */
function grantedRoleArns(root) {
  const file = join(root, 'dist', 'token', 'tessera.json')
  if (!existsSync(file)) return undefined
  const config = JSON.parse(readFileSync(file, 'utf8'))
  const arns = (config.policies ?? []).flatMap((p) => (p.grant?.aws?.roleArn ? [p.grant.aws.roleArn] : []))
  return [...new Set(arns)]
}

/** A grant the token role may not assume would fail every exchange at run time: refuse to package it. */
function checkGrantedRoles(granted, roles) {
  const missing = (granted ?? []).filter((arn) => !roles.includes(arn))
  if (missing.length > 0) {
    throw new Error(
      `assumableRoleArns lacks role(s) the bundled config grants: ${missing.join(', ')} ` +
        '(the token function could not assume them; add them to --param="assumableRoleArns=...")',
    )
  }
}

/** `token` -> `Token`: osls's prefix for a function's resources (TokenLogGroup, TokenLambdaFunction). */
const logicalPrefix = (fn) => fn.charAt(0).toUpperCase() + fn.slice(1)

/** The role's logical ID, which serverless.yml names in each function's `role:`. */
const roleLogicalId = (fn) => `${logicalPrefix(fn)}Role`

function statementsFor(fn, needs, roles, githubKeys = []) {
  const statements = [
    {
      Sid: 'OwnLogGroup',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      // The LogGroup's Arn attribute ends in ":*", covering its log streams.
      Resource: [{ 'Fn::GetAtt': [`${logicalPrefix(fn)}LogGroup`, 'Arn'] }],
    },
  ]
  if (needs.kms && needs.kms.length > 0) {
    statements.push({
      Sid: needs.kms.includes('kms:Sign') ? 'SignWithTesseraKeys' : 'ReadTesseraPublicKeys',
      Effect: 'Allow',
      Action: needs.kms,
      Resource: SIGNING_KEYS.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
    })
  }
  if (needs.dynamodb.length > 0) {
    statements.push({
      Sid: 'StateTable',
      Effect: 'Allow',
      Action: needs.dynamodb,
      Resource: [{ 'Fn::GetAtt': ['StateTable', 'Arn'] }],
    })
  }
  if (fn === GITHUB_APP_SIGNER && githubKeys.length > 0) {
    statements.push({
      Sid: 'SignGithubAppJwts',
      Effect: 'Allow',
      Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
      Resource: githubKeys,
    })
  }
  if (needs.sts && needs.sts.length > 0 && roles.length > 0) {
    statements.push({
      Sid: 'AssumeGrantedRoles',
      Effect: 'Allow',
      Action: needs.sts,
      Resource: roles,
    })
  }
  return statements
}

module.exports = async ({ resolveVariable }) => {
  const root = join(__dirname, '..')
  const roles = await assumableRoleArns(resolveVariable)
  checkGrantedRoles(grantedRoleArns(root), roles)
  const githubKeys = await githubAppKeyArns(resolveVariable)
  checkGithubKeys(configuredGithubKeyArns(root), githubKeys)
  const stage = await resolveVariable('sls:stage')
  const region = await resolveVariable('self:provider.region')
  const Resources = {}
  for (const [fn, needs] of Object.entries(endpointNeeds(root))) {
    // The token role keeps the name target roles trust; the others carry their function's name.
    const name = fn === 'token' ? `tessera-${stage}-${region}` : `tessera-${stage}-${region}-${fn}`
    if (name.length > MAX_ROLE_NAME) {
      throw new Error(`IAM role name ${name} exceeds ${MAX_ROLE_NAME} characters: use a shorter stage name`)
    }
    Resources[roleLogicalId(fn)] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: name,
        Path: '/',
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
          ],
        },
        Policies: [
          {
            PolicyName: `tessera-${stage}-${fn}`,
            PolicyDocument: { Version: '2012-10-17', Statement: statementsFor(fn, needs, roles, githubKeys) },
          },
        ],
      },
    }
  }
  return { Resources }
}

module.exports.endpointNeeds = endpointNeeds
module.exports.grantedRoleArns = grantedRoleArns
module.exports.checkGrantedRoles = checkGrantedRoles
module.exports.statementsFor = statementsFor
module.exports.githubAppKeyArns = githubAppKeyArns
module.exports.configuredGithubKeyArns = configuredGithubKeyArns
module.exports.checkGithubKeys = checkGithubKeys

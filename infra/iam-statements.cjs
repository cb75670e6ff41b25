'use strict'
// The function role's IAM statements, generated at package time so the STS statement names
// exactly the role ARNs this deployment may hand out (required param `assumableRoleArns`:
// comma-separated role ARNs, or `none` for a deployment that grants no AWS credentials).
// No `*` action and no `*` resource: every statement names the ARNs it covers.

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/

// Logical IDs of the AWS::KMS::Key resources in infra/kms.yml. Renaming one there (to replace a
// retired slot's key material, docs/deploy.md "Rotating keys") means renaming it here too.
const SIGNING_KEYS = ['SigningKeyBlue', 'SigningKeyGreen']

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

module.exports = async ({ resolveVariable }) => {
  const roles = await assumableRoleArns(resolveVariable)
  const statements = [
    {
      Sid: 'SignWithTesseraKeys',
      Effect: 'Allow',
      Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
      Resource: SIGNING_KEYS.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
    },
    {
      Sid: 'StateTable',
      Effect: 'Allow',
      Action: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:DeleteItem'],
      Resource: [{ 'Fn::GetAtt': ['StateTable', 'Arn'] }],
    },
  ]
  if (roles.length > 0) {
    statements.push({
      Sid: 'AssumeGrantedRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      Resource: roles,
    })
  }
  return statements
}

import { describe, expect, it } from 'vitest'
import { formatCredentialProcess, formatEnv, parseAwsCredentialsOutput } from '../../lib/client/aws-output.js'

const resp = {
  access_token: 'FwoGZXIvYXdzEXAMPLE+/=',
  issued_token_type: 'urn:tessera:params:oauth:token-type:aws-credentials',
  token_type: 'N_A',
  expires_in: 900,
  aws_access_key_id: 'ASIAEXAMPLE000000001',
  aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  aws_session_token: 'FwoGZXIvYXdzEXAMPLE+/=',
  expiration: '2030-01-01T00:15:00.000Z',
}

describe('formatCredentialProcess', () => {
  it('prints credential_process JSON as the AWS CLI expects', () => {
    expect(JSON.parse(formatCredentialProcess(resp))).toEqual({
      Version: 1,
      AccessKeyId: resp.aws_access_key_id,
      SecretAccessKey: resp.aws_secret_access_key,
      SessionToken: resp.aws_session_token,
      Expiration: resp.expiration,
    })
  })
})

describe('formatEnv', () => {
  it('prints quoted export lines', () => {
    expect(formatEnv(resp)).toBe(
      [
        `export AWS_ACCESS_KEY_ID='${resp.aws_access_key_id}'`,
        `export AWS_SECRET_ACCESS_KEY='${resp.aws_secret_access_key}'`,
        `export AWS_SESSION_TOKEN='${resp.aws_session_token}'`,
        `export AWS_CREDENTIAL_EXPIRATION='${resp.expiration}'`,
        '',
      ].join('\n'),
    )
  })
})

describe('parseAwsCredentialsOutput', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['an access token response', { access_token: 'x', token_type: 'Bearer' }],
    ['a secret with a shell quote', { ...resp, aws_secret_access_key: "x'; rm -rf ~; '" }],
    ['a session token with a newline', { ...resp, aws_session_token: 'abc\nexport EVIL=1' }],
    ['a lower-case access key id', { ...resp, aws_access_key_id: 'asiaexample000000001' }],
    ['a non-ISO expiration', { ...resp, expiration: 'tomorrow' }],
    ['a missing expiration', { ...resp, expiration: undefined }],
  ]
  for (const [why, body] of bad) {
    it(`refuses ${why} before printing anything`, () => {
      expect(() => parseAwsCredentialsOutput(body)).toThrow(/AWS credentials/)
      expect(() => formatEnv(body as typeof resp)).toThrow(/AWS credentials/)
      expect(() => formatCredentialProcess(body as typeof resp)).toThrow(/AWS credentials/)
    })
  }
})

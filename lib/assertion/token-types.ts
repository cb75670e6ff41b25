/** Token type URIs (RFC 8693 §3 and Tessera's own; docs/design.md "Contract names"). */
export const TokenTypes = {
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  awsSigv4: 'urn:tessera:params:oauth:token-type:aws-sigv4',
  awsEc2Rsa2048: 'urn:tessera:params:oauth:token-type:aws-ec2-rsa2048',
  azureAttested: 'urn:tessera:params:oauth:token-type:azure-attested',
  instanceNonce: 'urn:tessera:params:oauth:token-type:instance-nonce',
  awsCredentials: 'urn:tessera:params:oauth:token-type:aws-credentials',
} as const

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** OpenID CIBA's grant type: the requester polls with the auth_req_id of a request awaiting approval. */
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba'

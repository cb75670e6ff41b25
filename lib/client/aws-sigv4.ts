import { randomUUID } from 'node:crypto'
import { defaultProvider } from '@aws-sdk/credential-provider-node'
import { Hash } from '@smithy/hash-node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { GET_CALLER_IDENTITY_BODY, SERVER_ID_HEADER } from '../assertion/sigv4-request.js'

/** Resolves AWS credentials (the SDK's AwsCredentialIdentityProvider shape). */
export type AwsCredentialIdentityProvider = () => Promise<{
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}>

const REGION_RE = /^[a-z]{2}(?:-[a-z]+){1,2}-\d{1,2}$/

/**
 * Builds and signs an sts:GetCallerIdentity request with the caller's own AWS credentials (the
 * standard chain: env, SSO/profile, web identity, ECS/EC2 metadata, Lambda's role) and returns it
 * as Tessera's `urn:tessera:params:oauth:token-type:aws-sigv4` subject token: base64url JSON
 * `{method, url, headers, body}`. With `serverId`, X-Tessera-Server-ID is added and signed.
 */
export async function signedCallerIdentityToken(
  opts: {
    region?: string
    serverId?: string
    credentials?: AwsCredentialIdentityProvider
    now?: () => Date
  } = {},
): Promise<string> {
  // No region configured: the global endpoint, which AWS signs as us-east-1.
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION
  if (region !== undefined && !REGION_RE.test(region))
    throw new Error(`'${region}' is not an AWS region name`)
  if (opts.serverId !== undefined && !/^[\x20-\x7e]{1,256}$/.test(opts.serverId)) {
    throw new Error('the server id must be 1-256 printable ASCII characters')
  }
  const host = region === undefined ? 'sts.amazonaws.com' : `sts.${region}.amazonaws.com`
  const signer = new SignatureV4({
    service: 'sts',
    region: region ?? 'us-east-1',
    credentials: opts.credentials ?? defaultProvider(),
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  })
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: host,
    path: '/',
    headers: {
      host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      // Signed, and fresh per token: two requests signed within one second (X-Amz-Date's
      // resolution) still differ, so a broker with replay protection accepts both.
      'amz-sdk-invocation-id': randomUUID(),
      ...(opts.serverId !== undefined ? { [SERVER_ID_HEADER]: opts.serverId } : {}),
    },
    body: GET_CALLER_IDENTITY_BODY,
  })
  const signed = await signer.sign(request, { signingDate: (opts.now ?? (() => new Date()))() })
  const token = {
    method: 'POST',
    url: `https://${host}/`,
    headers: signed.headers,
    body: GET_CALLER_IDENTITY_BODY,
  }
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url')
}

import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What the fake serves; each callback builds the real signed artefact for the request. */
export interface FakeImdsOptions {
  /** base64 rsa2048 PKCS#7 for AWS (served with 64-column line breaks, like IMDS). */
  readonly awsRsa2048?: () => string
  /** base64 PKCS#7 `signature` for Azure attested data, given the requested nonce. */
  readonly azureSignature?: (nonce: string) => string
  /** A GCP identity token for the requested audience (format=full only). */
  readonly gcpIdentity?: (audience: string) => string
  /**
   * AWS instance profile: `iam/security-credentials/` lists `role`, and `…/<role>` serves `body()`
   * as JSON (IMDS shape: Code, AccessKeyId, SecretAccessKey, Token, Expiration).
   */
  readonly awsInstanceProfile?: { readonly role: string; readonly body: () => unknown }
  /** Also plays the broker's `POST /nonce` (for Azure client tests). */
  readonly brokerNonce?: () => string
}

export interface FakeImds {
  readonly endpoint: string
  /** Every request as `METHOD path` (path without query). */
  readonly requests: string[]
  /** 'hang' never answers (tests the client timeout); 'none' serves normally. */
  setFault(fault: 'none' | 'hang'): void
  close(): Promise<void>
}

const CREDENTIALS_PATH = '/latest/meta-data/iam/security-credentials/'

/** IMDS's JSON for instance-profile credentials. */
export function imdsCredentials(p: {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
}): Record<string, string> {
  return {
    Code: 'Success',
    LastUpdated: new Date().toISOString(),
    Type: 'AWS-HMAC',
    AccessKeyId: p.accessKeyId,
    SecretAccessKey: p.secretAccessKey,
    Token: p.sessionToken ?? '',
    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
  }
}

/** Loopback fake of the AWS (IMDSv2), Azure and GCP metadata services, with their header rules. */
export async function startFakeImds(opts: FakeImdsOptions): Promise<FakeImds> {
  const sessions = new Set<string>()
  const requests: string[] = []
  let fault: 'none' | 'hang' = 'none'
  const hanging = new Set<ServerResponse>()
  const send = (res: ServerResponse, status: number, body: string, type = 'text/plain') => {
    res.writeHead(status, { 'Content-Type': type }).end(body)
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://imds')
    requests.push(`${req.method} ${url.pathname}`)
    if (fault === 'hang') {
      hanging.add(res)
      return
    }
    if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(res, 400, 'missing ttl')
      const token = randomBytes(16).toString('base64')
      sessions.add(token)
      return send(res, 200, token)
    }
    if (req.method === 'GET' && url.pathname === '/latest/dynamic/instance-identity/rsa2048') {
      if (!sessions.has(String(req.headers['x-aws-ec2-metadata-token'])))
        return send(res, 401, 'Unauthorized')
      if (!opts.awsRsa2048) return send(res, 404, 'not found')
      return send(res, 200, opts.awsRsa2048().replace(/.{64}/g, '$&\n'))
    }
    if (req.method === 'GET' && url.pathname.startsWith(CREDENTIALS_PATH)) {
      if (!sessions.has(String(req.headers['x-aws-ec2-metadata-token'])))
        return send(res, 401, 'Unauthorized')
      const profile = opts.awsInstanceProfile
      if (!profile) return send(res, 404, 'not found')
      const rest = url.pathname.slice(CREDENTIALS_PATH.length)
      if (rest === '') return send(res, 200, profile.role)
      if (rest === profile.role) return send(res, 200, JSON.stringify(profile.body()))
      return send(res, 404, 'not found')
    }
    if (req.method === 'GET' && url.pathname === '/metadata/attested/document') {
      if (req.headers.metadata !== 'true' || !opts.azureSignature)
        return send(res, 400, '{"error":"Bad request"}')
      const nonce = url.searchParams.get('nonce') ?? ''
      return send(
        res,
        200,
        JSON.stringify({ encoding: 'pkcs7', signature: opts.azureSignature(nonce) }),
        'application/json',
      )
    }
    if (
      req.method === 'GET' &&
      url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity'
    ) {
      if (req.headers['metadata-flavor'] !== 'Google' || !opts.gcpIdentity) return send(res, 403, 'Forbidden')
      if (url.searchParams.get('format') !== 'full')
        return send(res, 400, 'format=full expected by this fake')
      return send(res, 200, opts.gcpIdentity(url.searchParams.get('audience') ?? ''))
    }
    if (req.method === 'POST' && url.pathname === '/nonce' && opts.brokerNonce) {
      return send(
        res,
        200,
        JSON.stringify({ nonce: opts.brokerNonce(), expires_in: 300 }),
        'application/json',
      )
    }
    send(res, 404, 'not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    setFault(f) {
      fault = f
      if (f === 'none') for (const r of hanging) r.destroy()
    },
    async close() {
      for (const r of hanging) r.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

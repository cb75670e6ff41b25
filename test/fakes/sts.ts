import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { accessKeyOf, verifySigV4 } from './sts-sigv4.js'

/**
 * A loopback AWS STS speaking the query/XML protocol: GetCallerIdentity and AssumeRole, each
 * request's SigV4 signature verified (./sts-sigv4.ts, node:crypto HMAC) against known test credentials.
 */

/** A principal the fake knows: its keys and who STS says it is. */
export interface StsPrincipal {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly arn: string
  readonly account: string
  readonly userId: string
  /** The session token has expired: STS answers 403 ExpiredToken. */
  readonly expired?: boolean
}

/** "A Lambda role": assumed-role credentials in account 111122223333. */
export const LAMBDA_ROLE: StsPrincipal = {
  accessKeyId: 'ASIATESTLAMBDA0000001',
  secretAccessKey: 'lambda-secret-key/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  sessionToken: 'IQoJb3JpZ2luX2VjEFAKESESSIONTOKENforTessera+/=',
  arn: 'arn:aws:sts::111122223333:assumed-role/orders-fn-role/orders-fn',
  account: '111122223333',
  userId: 'AROATESTLAMBDAROLEID:orders-fn',
}

/** An IAM user with long-lived keys in account 444455556666. */
export const IAM_USER: StsPrincipal = {
  accessKeyId: 'AKIATESTUSER00000001',
  secretAccessKey: 'user-secret-key/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  arn: 'arn:aws:iam::444455556666:user/ops/alice',
  account: '444455556666',
  userId: 'AIDATESTUSERALICE001',
}

/** Tessera's own credentials (vitest.config.ts env): the caller of AssumeRole. */
export const TESSERA_ROLE: StsPrincipal = {
  accessKeyId: 'AKIDTESTTESSERA',
  secretAccessKey: 'test-secret',
  arn: 'arn:aws:sts::999988887777:assumed-role/tessera/lambda',
  account: '999988887777',
  userId: 'AROATESTTESSERA:lambda',
}

/** STS error answers the fake can inject: HTTP status, fault type, error code, message (as AWS words them). */
const STS_ERRORS = {
  '500': [500, 'Receiver', 'InternalFailure', 'internal failure'],
  Throttling: [400, 'Sender', 'Throttling', 'Rate exceeded'],
  AccessDenied: [403, 'Sender', 'AccessDenied', 'User is not authorized to perform: sts:AssumeRole'],
  RegionDisabledException: [403, 'Sender', 'RegionDisabledException', 'STS is not activated in this region'],
  PackedPolicyTooLarge: [
    400,
    'Sender',
    'PackedPolicyTooLarge',
    'Packed policy consumes 112% of allotted space',
  ],
  MalformedPolicyDocument: [400, 'Sender', 'MalformedPolicyDocument', 'Syntax errors in policy.'],
  ValidationError: [400, 'Sender', 'ValidationError', 'DurationSeconds exceeds the MaxSessionDuration'],
} as const satisfies Record<string, readonly [number, 'Sender' | 'Receiver', string, string]>

export type StsFault = keyof typeof STS_ERRORS | 'hang' | 'garbage' | 'huge'

/** One request the fake received. */
export interface StsRequestRecord {
  readonly action: string | undefined
  readonly params: Readonly<Record<string, string>>
  readonly host: string | undefined
  readonly headers: IncomingHttpHeaders
  /** The SigV4 verdict: 'ok' or the STS error code sent back. */
  readonly auth: string
}

export interface FakeSts {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_STS` or an STSClient `endpoint`. */
  readonly endpoint: string
  readonly requests: readonly StsRequestRecord[]
  /** Requests received, optionally only those of one action. */
  count(action?: string): number
  /** Params of every AssumeRole call, in order. */
  assumeRoleCalls(): Readonly<Record<string, string>>[]
  /** Injects a fault for the next `times` requests (of `action`, when given). */
  fail(fault: StsFault, opts?: { times?: number; action?: string }): void
  addPrincipal(p: StsPrincipal): void
  reset(): void
  close(): Promise<void>
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'

/** Starts the fake on 127.0.0.1 (random port). `now` is its clock for the signature-age check. */
export async function startFakeSts(
  opts: { principals?: StsPrincipal[]; now?: () => number } = {},
): Promise<FakeSts> {
  const now = opts.now ?? Date.now
  const principals = new Map<string, StsPrincipal>()
  for (const p of opts.principals ?? [LAMBDA_ROLE, IAM_USER, TESSERA_ROLE]) principals.set(p.accessKeyId, p)
  const requests: StsRequestRecord[] = []
  let fault: { kind: StsFault; times: number; action: string | undefined } | undefined

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')))
  })

  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const params = Object.fromEntries(new URLSearchParams(body))
    const action = params.Action
    const auth = verifySigV4(req, body, principals, now())
    requests.push({ action, params, host: req.headers.host, headers: req.headers, auth })
    if (fault && (fault.action === undefined || fault.action === action) && fault.times > 0) {
      fault.times--
      const kind = fault.kind
      if (fault.times === 0) fault = undefined
      sendFault(res, kind)
      return
    }
    if (auth !== 'ok') {
      const status = auth === 'IncompleteSignature' || auth === 'MissingAuthenticationToken' ? 400 : 403
      sendError(res, status, 'Sender', auth, 'The request signature we calculated does not match')
      return
    }
    const caller = principals.get(accessKeyOf(req) ?? '') as StsPrincipal
    if (action === 'GetCallerIdentity' && params.Version === '2011-06-15') {
      sendXml(
        res,
        200,
        `<GetCallerIdentityResponse xmlns="${XMLNS}">\n  <GetCallerIdentityResult>\n    <Arn>${esc(caller.arn)}</Arn>\n    <UserId>${esc(caller.userId)}</UserId>\n    <Account>${esc(caller.account)}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${reqId()}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`,
      )
      return
    }
    if (action === 'AssumeRole' && params.Version === '2011-06-15') {
      assumeRole(res, params)
      return
    }
    sendError(res, 400, 'Sender', 'InvalidAction', `Could not find operation ${action ?? ''}`)
    return
  }

  function assumeRole(res: ServerResponse, p: Record<string, string>): void {
    const problem = validateAssumeRole(p)
    if (problem) {
      sendError(res, 400, 'Sender', 'ValidationError', problem)
      return
    }
    const duration = Number(p.DurationSeconds ?? 3600)
    const expiration = new Date(Math.floor(now() / 1000) * 1000 + duration * 1000)
      .toISOString()
      .replace('.000Z', 'Z')
    const roleName = (p.RoleArn ?? '').split('/').pop() ?? ''
    const account = (p.RoleArn ?? '').split(':')[4] ?? ''
    const keyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`
    const source = p.SourceIdentity ? `<SourceIdentity>${esc(p.SourceIdentity)}</SourceIdentity>` : ''
    sendXml(
      res,
      200,
      `<AssumeRoleResponse xmlns="${XMLNS}">\n  <AssumeRoleResult>\n    ${source}\n    <AssumedRoleUser>\n      <Arn>arn:aws:sts::${account}:assumed-role/${esc(roleName)}/${esc(p.RoleSessionName ?? '')}</Arn>\n      <AssumedRoleId>AROATESTASSUMED:${esc(p.RoleSessionName ?? '')}</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>${keyId}</AccessKeyId>\n      <SecretAccessKey>${randomBytes(30).toString('base64')}</SecretAccessKey>\n      <SessionToken>FwoGZXIvYXdzE${randomBytes(180).toString('base64')}</SessionToken>\n      <Expiration>${expiration}</Expiration>\n    </Credentials>\n    <PackedPolicySize>6</PackedPolicySize>\n  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>${reqId()}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n`,
    )
  }

  function sendFault(res: ServerResponse, kind: StsFault): void {
    switch (kind) {
      case 'hang':
        return // never answers; close() destroys the socket
      case 'garbage':
        sendXml(res, 200, '<html>not sts</html>')
        return
      case 'huge':
        sendXml(res, 200, `<GetCallerIdentityResponse>${'x'.repeat(200_000)}</GetCallerIdentityResponse>`)
        return
      default: {
        const [status, type, code, message] = STS_ERRORS[kind]
        sendError(res, status, type, code, message)
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    count: (action) =>
      action === undefined ? requests.length : requests.filter((r) => r.action === action).length,
    assumeRoleCalls: () => requests.filter((r) => r.action === 'AssumeRole').map((r) => r.params),
    fail: (kind, o = {}) => {
      fault = { kind, times: o.times ?? Number.POSITIVE_INFINITY, action: o.action }
    },
    addPrincipal: (p) => principals.set(p.accessKeyId, p),
    reset: () => {
      requests.length = 0
      fault = undefined
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The STS-side checks AWS applies to AssumeRole parameters (a subset: the ones Tessera can get wrong). */
function validateAssumeRole(p: Record<string, string>): string | undefined {
  if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(p.RoleArn ?? ''))
    return 'RoleArn is invalid'
  if (!/^[\w+=,.@-]{2,64}$/.test(p.RoleSessionName ?? '')) return 'RoleSessionName fails its constraint'
  if (p.SourceIdentity !== undefined) {
    if (!/^[\w+=,.@-]{2,64}$/.test(p.SourceIdentity)) return 'SourceIdentity fails its constraint'
    if (p.SourceIdentity.toLowerCase().startsWith('aws:')) return 'SourceIdentity may not start with aws:'
  }
  if (p.DurationSeconds !== undefined) {
    const d = Number(p.DurationSeconds)
    if (!Number.isInteger(d) || d < 900 || d > 43_200) return 'DurationSeconds out of range'
  }
  if (p.Policy !== undefined && p.Policy.length > 2048) return 'Policy exceeds 2048 characters'
  for (let n = 1; n <= 60; n++) {
    const key = p[`Tags.member.${n}.Key`]
    const value = p[`Tags.member.${n}.Value`]
    if (key === undefined && value === undefined) break
    if (n > 50) return 'Tags: at most 50'
    if (key === undefined || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(key))
      return `Tags.member.${n}.Key invalid`
    if (value === undefined || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u.test(value))
      return `Tags.member.${n}.Value invalid`
  }
  return undefined
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function reqId(): string {
  return randomBytes(16).toString('hex')
}

function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': reqId() })
  res.end(xml)
}

function sendError(res: ServerResponse, status: number, type: string, code: string, message: string): void {
  sendXml(
    res,
    status,
    `<ErrorResponse xmlns="${XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n    <Message>${esc(message)}</Message>\n  </Error>\n  <RequestId>${reqId()}</RequestId>\n</ErrorResponse>\n`,
  )
}

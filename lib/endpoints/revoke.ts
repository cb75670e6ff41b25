import { authenticateAdmin } from '../admin/authenticate.js'
import type { AdminDeps } from '../admin/deps.js'
import { verifyIssuedToken } from '../admin/verify-access-token.js'
import { NameSchema } from '../config/providers/common.js'
import { InvalidRequest, MethodNotAllowed, TokenRejected } from '../errors.js'
import { INSTALLATION_TOKEN_HINT, INSTALLATION_TOKEN_PREFIX } from '../github/revoke-token.js'
import { githubTokenHash } from '../github/token-hash.js'
import { type FormParams, parseForm } from '../http/form.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import type { RevocationTarget } from '../store/revocations.js'

/** Longest `sub` accepted, in UTF-8 bytes: keeps the item's sort key well under DynamoDB's 1,024 bytes. */
const MAX_SUB_BYTES = 512

type Parsed =
  | { kind: 'token'; token: string }
  | { kind: 'github'; token: string; app: string | undefined }
  | { kind: 'subject'; target: { provider: string; sub: string } }
  | { kind: 'policy'; target: { policy: string } }

/**
 * POST /revoke. The caller authenticates with scope `tessera:revoke`. Exactly one of: RFC 7009
 * `token=<jwt>` (that token), `sub=<subject>&provider=<name>` or `policy=<name>` (everything issued
 * before now, and no new issuance until lifted). `lift=true` with the same parameters lifts it.
 * As RFC 7009 §2.2 asks, a token this broker cannot verify (or already expired) is answered 200.
 */
export async function revoke(deps: AdminDeps, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const caller = await authenticateAdmin(deps, req.headers, 'tessera:revoke', req.requestId)
  const form = parseForm(req.headers['content-type'], req.body)
  const lift = parseLift(form)
  const parsed = parseTarget(form)
  if (parsed.kind === 'github') return revokeGithubToken(deps, req, parsed, lift, caller)
  let target: RevocationTarget
  let body: Record<string, unknown>
  if (parsed.kind === 'token') {
    const claims = await verifyIssuedToken(parsed.token, deps).catch((err: unknown) => {
      if (err instanceof TokenRejected) return undefined
      throw err
    })
    if (!claims) return jsonResponse(200, { status: 'ignored', target: 'token' }, req.requestId)
    target = { jti: claims.jti, exp: claims.exp }
    body = { target: 'token', jti: claims.jti }
  } else {
    if (!lift) checkKnown(deps, parsed)
    target = parsed.target
    body = { target: parsed.kind, ...parsed.target }
  }
  const by = `${caller.client_id}/${caller.sub}`
  let status: 'revoked' | 'lifted' | 'superseded' = 'revoked'
  if (lift) status = await deps.revocations.lift(target, by)
  else await deps.revocations.revoke(target, by)
  deps.metrics?.count('revocations', { action: lift ? 'lift' : 'revoke' })
  deps.audit?.emit({
    event: lift ? 'revocation.lifted' : 'revocation.added',
    level: lift ? 'INFO' : 'WARN',
    // superseded: a re-revoke made meanwhile won; the revocation still stands.
    ...(status === 'superseded' ? { status } : {}),
    request_id: req.requestId,
    time: new Date(deps.now()).toISOString(),
    by,
    ...body,
  })
  return jsonResponse(200, { status, ...body, at: Math.floor(deps.now() / 1000) }, req.requestId)
}

function parseLift(form: FormParams): boolean {
  const lift = form.get('lift')
  if (lift === undefined || lift === 'false') return false
  if (lift === 'true') return true
  throw new InvalidRequest('lift must be true or false')
}

function parseTarget(form: FormParams): Parsed {
  const token = form.get('token')
  const sub = form.get('sub')
  const provider = form.get('provider')
  const policy = form.get('policy')
  const given = [token !== undefined, sub !== undefined || provider !== undefined, policy !== undefined]
  if (given.filter(Boolean).length !== 1) {
    throw new InvalidRequest('give exactly one of: token, sub with provider, or policy')
  }
  if (token !== undefined) {
    const github =
      token.startsWith(INSTALLATION_TOKEN_PREFIX) || form.get('token_type_hint') === INSTALLATION_TOKEN_HINT
    if (github) return { kind: 'github', token, app: form.get('app') }
    return { kind: 'token', token }
  }
  if (policy !== undefined) return { kind: 'policy', target: { policy: name('policy', policy) } }
  if (sub === undefined || provider === undefined) throw new InvalidRequest('sub and provider go together')
  if (Buffer.byteLength(sub, 'utf8') > MAX_SUB_BYTES)
    throw new InvalidRequest(`sub is longer than ${MAX_SUB_BYTES} bytes (UTF-8)`)
  return { kind: 'subject', target: { provider: name('provider', provider), sub } }
}

function name(param: string, value: string): string {
  if (!NameSchema.safeParse(value).success) throw new InvalidRequest(`${param} is not a valid name`)
  return value
}

function checkKnown(deps: AdminDeps, parsed: Exclude<Parsed, { kind: 'token' }>): void {
  const { config } = deps
  if (!config) return
  if (parsed.kind === 'policy' && !config.policies.some((p) => p.name === parsed.target.policy)) {
    throw new InvalidRequest(`no policy named '${parsed.target.policy}' is configured`)
  }
  if (parsed.kind === 'subject' && !config.providers.some((p) => p.name === parsed.target.provider)) {
    throw new InvalidRequest(`no provider named '${parsed.target.provider}' is configured`)
  }
}

/**
 * A GitHub installation token is revoked at GitHub (`DELETE /installation/token`), not in Tessera's
 * store: GitHub is the only party that accepts it. Audited with GitHub's `hashed_token` form.
 */
async function revokeGithubToken(
  deps: AdminDeps,
  req: HttpRequest,
  parsed: Extract<Parsed, { kind: 'github' }>,
  lift: boolean,
  caller: { client_id: string; sub: string },
): Promise<HttpResponse> {
  if (lift) throw new InvalidRequest('a GitHub installation token cannot be un-revoked')
  if (!deps.githubTokens) throw new InvalidRequest('no GitHub App is configured on this broker')
  const app = deps.githubTokens.resolveApp(parsed.app)
  const status = await deps.githubTokens.revoke(app, parsed.token)
  const body = { target: 'github_installation_token', app }
  deps.metrics?.count('revocations', { action: 'revoke' })
  deps.audit?.emit({
    event: 'revocation.added',
    level: 'WARN',
    request_id: req.requestId,
    time: new Date(deps.now()).toISOString(),
    by: `${caller.client_id}/${caller.sub}`,
    ...body,
    status,
    issued_token_hash: githubTokenHash(parsed.token),
  })
  return jsonResponse(200, { status, ...body, at: Math.floor(deps.now() / 1000) }, req.requestId)
}

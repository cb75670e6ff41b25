import { tokenHash } from '../assertion/token-hash.js'
import type { VerifiedSubject } from '../assertion/types.js'
import type { Broker } from '../broker.js'
import { mintAccessToken } from '../credentials/access-token.js'
import {
  BrokerError,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  MethodNotAllowed,
  TemporarilyUnavailable,
  UnsupportedTokenType,
} from '../errors.js'
import { type FormParams, parseForm } from '../http/form.js'
import { jsonResponse } from '../http/respond.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { evaluate } from '../policy/evaluate.js'
import type { Decision, ResolvedGrant } from '../policy/types.js'
import { consumeOnce } from '../store/replay.js'
import { StoreUnavailable } from '../store/types.js'
import { type ExchangeOutcome, exchangeEvent } from './audit-event.js'
import { parseTokenRequest, REPEATABLE, type TokenRequest } from './request.js'

/** POST /token: RFC 8693 token exchange. Verify → replay → policy → mint → audit; every path audited once. */
export async function exchangeToken(broker: Broker, req: HttpRequest): Promise<HttpResponse> {
  if (req.method !== 'POST') throw new MethodNotAllowed(['POST'])
  const startedAt = broker.now()
  const outcome: { -readonly [K in keyof ExchangeOutcome]: ExchangeOutcome[K] } = {
    requestId: req.requestId,
    startedAt,
    now: startedAt,
  }
  // Hashed only when the audit event needs it (no verified subject, whose tokenHash is the same digest).
  let subjectToken: string | undefined
  let stage: Stage = 'verify'
  try {
    const form = parseForm(req.headers['content-type'], req.body, REPEATABLE)
    const request = parseTokenRequest(form)
    outcome.subjectTokenType = request.subjectTokenType
    subjectToken = request.subjectToken
    const subject = await verifySubject(broker, request, form, req)
    outcome.subject = subject
    stage = 'store'
    if (
      subject.replay &&
      !(await guardStore(consumeOnce(broker.table, subject.replay.key, subject.replay.expiresAt)))
    ) {
      throw new InvalidRequest('subject_token has already been used').withDetail('replay')
    }
    stage = 'policy'
    const decision = decide(broker, request, subject)
    outcome.trace = decision.trace
    if (!decision.allow)
      throw decision.error === 'invalid_scope'
        ? new InvalidScope(decision.message)
        : new InvalidTarget(decision.message)
    outcome.policy = decision.policy
    stage = 'store'
    if (
      await guardStore(
        broker.revocations.blocksIssuance({
          provider: subject.provider,
          sub: subject.sub,
          policy: decision.policy,
        }),
      )
    ) {
      throw new InvalidRequest('issuance to this subject or by this policy is revoked').withDetail('revoked')
    }
    stage = decision.grant.kind === 'aws' ? 'sts' : 'kms'
    const { body, granted } = await mint(
      broker,
      request,
      subject,
      decision.policy,
      decision.grant,
      req.requestId,
    )
    outcome.granted = granted
    outcome.now = broker.now()
    broker.audit.emit(exchangeEvent(outcome))
    record(broker, 'allowed', outcome.now - startedAt)
    return jsonResponse(200, body, req.requestId)
  } catch (err) {
    const error =
      err instanceof StoreUnavailable ? new TemporarilyUnavailable('state store unavailable') : err
    outcome.now = broker.now()
    if (outcome.subject === undefined && subjectToken !== undefined)
      outcome.rawTokenHash = tokenHash(subjectToken)
    broker.audit.emit(exchangeEvent({ ...outcome, error }))
    const unavailable = error instanceof TemporarilyUnavailable
    if (unavailable && stage !== 'verify' && stage !== 'policy') broker.metrics.count(`${stage}_errors`)
    record(broker, unavailable ? 'error' : 'denied', outcome.now - startedAt)
    throw error
  }
}

/** Which dependency a failure at this point belongs to (for the error metrics). */
type Stage = 'verify' | 'policy' | 'store' | 'kms' | 'sts'

function record(broker: Broker, outcome: 'allowed' | 'denied' | 'error', ms: number): void {
  broker.metrics.count('exchanges', { outcome })
  broker.metrics.timing('latency', ms, { outcome })
  broker.metrics.flush()
}

async function verifySubject(
  broker: Broker,
  request: TokenRequest,
  form: FormParams,
  req: HttpRequest,
): Promise<VerifiedSubject> {
  const verifier = broker.verifiers.get(request.subjectTokenType)
  if (!verifier) throw new UnsupportedTokenType('subject_token_type is not accepted by this broker')
  if (request.actorTokenType !== undefined && !verifier.actorTokenTypes?.includes(request.actorTokenType)) {
    throw new InvalidRequest('actor_token_type is not accepted with this subject_token_type')
  }
  return verifier.verify({
    subjectToken: request.subjectToken,
    subjectTokenType: request.subjectTokenType,
    actorToken: request.actorToken,
    actorTokenType: request.actorTokenType,
    params: form,
    requestId: req.requestId,
    sourceIp: req.sourceIp,
    now: broker.now(),
  })
}

function decide(broker: Broker, request: TokenRequest, subject: VerifiedSubject): Decision {
  return evaluate(broker.policies, {
    provider: subject.provider,
    claims: subject.claims,
    audiences: request.audiences,
    resources: request.resources,
    scopes: request.scopes,
    grantKinds: request.grantKinds,
  })
}

async function mint(
  broker: Broker,
  request: TokenRequest,
  subject: VerifiedSubject,
  policy: string,
  grant: ResolvedGrant,
  requestId: string,
): Promise<{ body: Record<string, unknown>; granted: Record<string, unknown> }> {
  if (grant.kind === 'aws') {
    if (!broker.awsMinter) throw new InvalidTarget('AWS credentials are not available from this broker')
    const body = await broker.awsMinter.mint(grant, subject, { policy, requestId })
    return { body: { ...body }, granted: { role_arn: grant.roleArn, expires_in: body.expires_in } }
  }
  // Until the minter registry lands, github grants have no minter here: refused, nothing minted.
  if (grant.kind === 'github') throw new InvalidTarget('GitHub tokens are not available from this broker')
  const minted = await mintAccessToken(broker.keys.active, {
    issuer: broker.issuer,
    sub: subject.sub,
    audience: grant.audience,
    scopes: grant.scopes,
    ttl: grant.ttl,
    clientId: policy,
    idp: subject.provider,
    now: broker.now(),
  })
  const scope = grant.scopes.join(' ')
  return {
    body: {
      access_token: minted.token,
      issued_token_type: request.tokenType,
      token_type: 'Bearer',
      expires_in: grant.ttl,
      ...(scope ? { scope } : {}),
    },
    granted: {
      audience: grant.audience,
      scope,
      ttl: grant.ttl,
      jti: minted.jti,
      kid: broker.keys.active.kid,
    },
  }
}

/** Store failures become 503 (fail closed); BrokerErrors pass through. */
async function guardStore<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof BrokerError) throw err
    throw new TemporarilyUnavailable('state store unavailable').withDetail(
      String((err as Error)?.message ?? err),
    )
  }
}

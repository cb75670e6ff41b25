import { DPOP_ALGORITHMS } from '../lib/dpop/proof.js'
import { TokenVerificationError, type TokenVerificationErrorCode } from '../lib/errors.js'

export type Scheme = 'Bearer' | 'DPoP'

/** One WWW-Authenticate challenge (RFC 6750 §3, RFC 9449 §7.1); `algs` goes on every DPoP challenge. */
function challenge(scheme: Scheme, params: Readonly<Record<string, string | undefined>> = {}): string {
  const all = scheme === 'DPoP' ? { algs: DPOP_ALGORITHMS.join(' '), ...params } : params
  const rendered = Object.entries(all)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${v}"`)
  return rendered.length === 0 ? scheme : `${scheme} ${rendered.join(', ')}`
}

/** No credentials were sent: a challenge per accepted scheme, without an error (RFC 6750 §3.1). */
export function missingCredentials(schemes: readonly Scheme[]): TokenVerificationError {
  return new TokenVerificationError(
    'invalid_token',
    'an access token is required',
    schemes.map((s) => challenge(s)).join(', '),
  )
}

/** A refusal, challenged in `scheme` (the one the client used, or DPoP when only DPoP is accepted). */
export function refuse(
  code: TokenVerificationErrorCode,
  scheme: Scheme,
  description: string,
  scope?: string,
): TokenVerificationError {
  return new TokenVerificationError(
    code,
    description,
    challenge(scheme, { error: code, error_description: description, scope }),
  )
}

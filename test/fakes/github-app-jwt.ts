import { type KeyObject, verify } from 'node:crypto'

/** GitHub refuses an app JWT whose lifetime exceeds 10 minutes. */
const MAX_JWT_LIFETIME_S = 600
/** Clock skew GitHub tolerates on `iat`. */
const SKEW_S = 60

function b64json(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * Checks a GitHub App JWT as GitHub does, for the GitHub fake: `Bearer <RS256 JWT>` whose `iss` names
 * a known App, whose signature verifies with that App's public key, and whose iat/exp window is at
 * most 10 minutes and current. Returns the App and the signature, or why it is refused.
 */
export function verifyAppJwt<A extends { readonly iss: string; readonly key: KeyObject }>(
  authorization: string | undefined,
  apps: readonly A[],
  nowMs: number,
): { app: A; signature: string } | string {
  const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? '')
  if (!m) return 'no bearer JWT'
  const [, h, p, s] = m as unknown as [string, string, string, string]
  const header = b64json(h)
  const payload = b64json(p)
  if (header?.alg !== 'RS256' || !payload) return 'not an RS256 JWT'
  const app = apps.find((a) => a.iss === String(payload.iss))
  if (!app) return `unknown iss ${String(payload.iss)}`
  if (!verify('sha256', Buffer.from(`${h}.${p}`), app.key, Buffer.from(s, 'base64url')))
    return 'bad signature'
  const t = Math.floor(nowMs / 1000)
  const { iat, exp } = payload
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'iat/exp missing'
  if (iat > t + SKEW_S) return 'iat in the future'
  if (exp <= t) return 'expired'
  if (exp - iat > MAX_JWT_LIFETIME_S || exp > t + MAX_JWT_LIFETIME_S) return 'exp too far in the future'
  return { app, signature: s }
}

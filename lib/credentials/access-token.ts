import { randomFillSync } from 'node:crypto'
import { ServerError } from '../errors.js'
import type { Signer } from '../keys/signer.js'

export interface AccessTokenClaims {
  readonly issuer: string
  readonly sub: string
  readonly audience: readonly string[]
  readonly scopes: readonly string[]
  /** Seconds. */
  readonly ttl: number
  /** The policy name (RFC 9068 client_id). */
  readonly clientId: string
  /** The provider name. */
  readonly idp: string
  /** Epoch milliseconds. */
  readonly now: number
  /** Further claims (act, approved_by, cnf); none may replace a claim this module sets. */
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

export interface MintedToken {
  readonly token: string
  readonly jti: string
  readonly iat: number
  readonly exp: number
}

const headerCache = new WeakMap<Signer, string>()

// jti bytes come from a CSPRNG pool refilled in bulk (as node's randomUUID does): one native call
// per 256 tokens instead of one per token. Each byte is handed out once.
const JTI_BYTES = 16
const jtiPool = Buffer.allocUnsafe(JTI_BYTES * 256)
let jtiOffset = jtiPool.length

function nextJti(): string {
  if (jtiOffset === jtiPool.length) {
    randomFillSync(jtiPool)
    jtiOffset = 0
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES)
  jtiOffset += JTI_BYTES
  return jti
}

/** Mints an RFC 9068 JWT access token: `typ: at+jwt`, one `signer.sign` call. */
export async function mintAccessToken(signer: Signer, c: AccessTokenClaims): Promise<MintedToken> {
  let header = headerCache.get(signer)
  if (!header) {
    header = b64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' }))
    headerCache.set(signer, header)
  }
  const iat = Math.floor(c.now / 1000)
  const exp = iat + c.ttl
  const jti = nextJti()
  const payload: Record<string, unknown> = {
    iss: c.issuer,
    sub: c.sub,
    aud: c.audience.length === 1 ? c.audience[0] : c.audience,
    exp,
    iat,
    nbf: iat,
    jti,
    client_id: c.clientId,
    idp: c.idp,
  }
  if (c.scopes.length > 0) payload.scope = c.scopes.join(' ')
  if (c.extra) addExtraClaims(payload, c.extra)
  const signingInput = `${header}.${b64url(JSON.stringify(payload))}`
  const signature = await signer.sign(Buffer.from(signingInput))
  // A view, not a copy: the signature bytes are only encoded.
  const encoded = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString(
    'base64url',
  )
  return { token: `${signingInput}.${encoded}`, jti, iat, exp }
}

// Claims the token's own rules set: an extra claim of these names would change who or what the token
// is for, so it is refused rather than merged.
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'idp',
  'scope',
])

function addExtraClaims(payload: Record<string, unknown>, extra: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(extra)) {
    if (RESERVED_CLAIMS.has(name))
      throw new ServerError(`extra claim ${name} would replace a registered claim`)
    if (value !== undefined) payload[name] = value
  }
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url')
}

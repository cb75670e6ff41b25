import { importJWK, type JWK, SignJWT } from 'jose'
import type { AdminDeps } from '../../lib/admin/deps.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { mintAccessToken } from '../../lib/credentials/access-token.js'
import type { HttpRequest } from '../../lib/http/types.js'
import { createLocalSigner, generatePrivateJwk } from '../../lib/keys/local-signer.js'
import type { KeyRing, Signer } from '../../lib/keys/signer.js'
import { MemoryTable } from '../../lib/store/memory-table.js'
import { RevocationList } from '../../lib/store/revocations.js'
import type { StateTable } from '../../lib/store/types.js'

export const ISSUER = 'https://sts.example.com'
export const T0 = 1_700_000_000_000

export interface MintOptions {
  sub?: string
  aud?: string[]
  scopes?: string[]
  ttl?: number
  policy?: string
  idp?: string
  issuer?: string
  signer?: Signer
  at?: number
}

/** A broker-ish admin setup: real local signer, real RevocationList on a MemoryTable (or a given table), injected clock. */
export async function adminFixture(opts: { table?: StateTable } = {}) {
  const clock = { ms: T0 }
  const now = () => clock.ms
  const privateJwk = await generatePrivateJwk('ES256')
  const signer = await createLocalSigner(privateJwk, 'ES256')
  const foreign = await createLocalSigner(await generatePrivateJwk('ES256'), 'ES256')
  const keys: KeyRing = { active: signer, publicKeys: [signer.publicJwk] }
  const table = opts.table ?? new MemoryTable(() => Math.floor(clock.ms / 1000))
  const revocations = new RevocationList(table, { now })
  const audit = new MemoryAuditSink()
  const deps: AdminDeps = {
    issuer: ISSUER,
    keys,
    revocations,
    now,
    audit,
    config: { providers: [{ name: 'gha' }], policies: [{ name: 'deploy' }, { name: 'admin' }] },
  }

  const mint = async (o: MintOptions = {}) =>
    (
      await mintAccessToken(o.signer ?? signer, {
        issuer: o.issuer ?? ISSUER,
        sub: o.sub ?? 'repo:acme/app',
        audience: o.aud ?? ['https://api.example.com'],
        scopes: o.scopes ?? ['deploy:write'],
        ttl: o.ttl ?? 600,
        clientId: o.policy ?? 'deploy',
        idp: o.idp ?? 'gha',
        now: o.at ?? clock.ms,
      })
    ).token

  const adminToken = (scopes: string[], o: MintOptions = {}) =>
    mint({ sub: 'ops', aud: [ISSUER], scopes, policy: 'admin', ...o })

  /** Signs arbitrary claims/header with the broker's own key (for wrong-typ and odd-claim tokens). */
  const signRaw = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt', ...header })
      .sign(await importJWK(privateJwk as JWK, 'ES256'))

  let n = 0
  const request = (path: string, form: Record<string, string>, authorization?: string): HttpRequest => ({
    method: 'POST',
    path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: new URLSearchParams(form).toString(),
    query: '',
    sourceIp: '127.0.0.1',
    requestId: `req-${++n}`,
  })

  return {
    clock,
    now,
    signer,
    foreign,
    keys,
    table,
    revocations,
    audit,
    deps,
    mint,
    adminToken,
    signRaw,
    request,
  }
}

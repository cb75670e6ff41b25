/**
 * The GitHub App JWT (RS256, `{iss, iat: now − 60, exp: now + 540}`), signed through the Signer
 * interface (one KMS `Sign` per JWT) and reused until 60 s before it expires, so a busy broker signs
 * about once every 8 minutes per App. Concurrent callers share one in-flight signature.
 */
import type { Signer } from '../keys/signer.js'

const BACKDATE_S = 60
const LIFETIME_S = 540
const RENEW_BEFORE_EXP_S = 60

export interface AppJwtSource {
  /** A valid app JWT: the cached one, or a freshly signed one. */
  get(): Promise<string>
  /** Drops the cached JWT (GitHub refused it), so the next call signs anew. */
  invalidate(): void
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Creates the JWT source of one App. `signer` is loaded on first use (a KMS key is looked up once). */
export function createAppJwtSource(opts: {
  readonly iss: string
  readonly signer: () => Promise<Signer>
  /** Epoch ms. */
  readonly now: () => number
}): AppJwtSource {
  let cached: { jwt: string; exp: number } | undefined
  let inflight: Promise<string> | undefined

  const sign = async (): Promise<string> => {
    const signer = await opts.signer()
    if (signer.alg !== 'RS256') throw new Error(`a GitHub App key signs RS256, not ${signer.alg}`)
    const iat = Math.floor(opts.now() / 1000) - BACKDATE_S
    const exp = iat + BACKDATE_S + LIFETIME_S
    // Numeric App IDs are sent as numbers, as GitHub's own examples do; client IDs as strings.
    const iss = /^\d+$/.test(opts.iss) ? Number(opts.iss) : opts.iss
    const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iat, exp, iss })}`
    const signature = await signer.sign(new TextEncoder().encode(input))
    const jwt = `${input}.${Buffer.from(signature).toString('base64url')}`
    cached = { jwt, exp }
    return jwt
  }

  return {
    get() {
      if (cached && opts.now() / 1000 < cached.exp - RENEW_BEFORE_EXP_S) return Promise.resolve(cached.jwt)
      inflight ??= sign().finally(() => {
        inflight = undefined
      })
      return inflight
    },
    invalidate() {
      cached = undefined
    },
  }
}

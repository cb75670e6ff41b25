import { parseArgs } from 'node:util'
import { parseDuration } from '../config/duration.js'
import { devIssuerUrl, signDevToken } from '../server/dev-issuer.js'

const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'])

/** `tessera dev-token --sub S [--claim k=v]… [--aud A]`: a test assertion from the local dev issuer. */
export async function runDevToken(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sub: { type: 'string' },
      claim: { type: 'string', multiple: true, default: [] },
      aud: { type: 'string' },
      url: { type: 'string', default: process.env.TESSERA_URL ?? 'http://127.0.0.1:8787' },
      ttl: { type: 'string', default: '5m' },
    },
    strict: true,
  })
  if (!values.sub) throw new Error('--sub is required')
  const ttl = parseDuration(values.ttl)
  if (ttl === undefined || ttl < 1 || ttl > 3600)
    throw new Error('--ttl must be a duration up to 1h, e.g. 5m')
  const claims: Record<string, unknown> = {}
  for (const c of values.claim) {
    const [key, value] = splitClaim(c)
    if (RESERVED.has(key)) throw new Error(`--claim ${key}: set registered claims with their own flags`)
    claims[key] = value
  }
  const url = values.url.replace(/\/+$/, '')
  return signDevToken({
    issuer: devIssuerUrl(url),
    sub: values.sub,
    audience: values.aud ?? url,
    claims,
    ttlSeconds: ttl,
  })
}

/** `k=v` sets a string; `k:=json` sets a typed JSON value (number, boolean, array). */
function splitClaim(text: string): [string, unknown] {
  const typed = /^([^=:]+):=(.*)$/s.exec(text)
  if (typed) {
    try {
      return [typed[1] as string, JSON.parse(typed[2] as string)]
    } catch {
      throw new Error(`--claim ${typed[1]}:= needs a JSON value`)
    }
  }
  const eq = text.indexOf('=')
  if (eq <= 0) throw new Error(`--claim ${text}: use key=value or key:=json`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

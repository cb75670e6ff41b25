import { parseDuration } from '../config/duration.js'
import { PRESET_NAMES, type PresetName } from '../config/presets.js'
import { UsageError } from '../errors.js'
import { devIssuerKeyFile, devIssuerUrl, signDevToken } from '../server/dev-issuer.js'
import { defineCommand } from './command.js'
import { brokerUrl, URL_FLAG } from './common-flags.js'
import { PRESET_SAMPLES } from './dev-token-presets.js'

const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'])

/** `tessera dev-token`: a test assertion from the local dev issuer, optionally shaped like a preset's. */
export const devTokenCommand = defineCommand({
  name: 'dev-token',
  summary:
    'print a test assertion signed by the local dev issuer (tessera serve without --config, or --dev-issuer)',
  synopsis: '(--sub S | --preset P) [--claim k=v | k:=json]… [--aud A] [--url U] [--ttl 5m]',
  flags: {
    sub: { type: 'string', value: 'S', help: 'the subject (sub claim); a preset supplies a sample one' },
    preset: {
      type: 'string',
      value: 'P',
      help: `claims shaped like a preset issuer: ${PRESET_NAMES.join(', ')}; accepted only by serve --dev-issuer`,
    },
    claim: {
      type: 'string',
      multiple: true,
      default: [],
      value: 'k=v',
      help: 'a string claim, or k:=json for a typed value (number, boolean, array)',
    },
    aud: { type: 'string', value: 'A', help: 'the audience (default: the broker URL)' },
    audience: { type: 'string', value: 'A', help: 'same as --aud' },
    url: URL_FLAG,
    ttl: { type: 'string', default: '5m', value: 'D', help: 'lifetime, up to 1h' },
  },
  examples: [
    "tessera dev-token --sub 'repo:acme/app:ref:refs/heads/main'",
    'tessera dev-token --preset github-actions --claim ref=refs/heads/release/1',
    'tessera dev-token --sub admin | tessera exchange --token - --audience http://127.0.0.1:8787',
  ],
  notes: `The dev issuer key is ${devIssuerKeyFile()} (TESSERA_HOME moves it), whatever the current folder.`,
  async run({ values }, io) {
    const preset = values.preset as PresetName | undefined
    if (preset !== undefined && !PRESET_NAMES.includes(preset))
      throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}`)
    const sample = preset ? PRESET_SAMPLES[preset] : undefined
    const sub = values.sub ?? sample?.sub
    if (!sub) throw new UsageError('--sub is required (or --preset, which supplies a sample subject)')
    if (values.aud !== undefined && values.audience !== undefined)
      throw new UsageError('give the audience once (--aud or --audience)')
    const ttl = parseDuration(values.ttl)
    if (ttl === undefined || ttl < 1 || ttl > 3600)
      throw new UsageError('--ttl must be a duration up to 1h, e.g. 5m')
    const claims: Record<string, unknown> = { ...sample?.claims }
    for (const c of values.claim) {
      const [key, value] = splitClaim(c)
      if (RESERVED.has(key))
        throw new UsageError(`--claim ${key}: set registered claims with their own flags`)
      claims[key] = value
    }
    const url = brokerUrl(values.url, io.env)
    const token = await signDevToken({
      issuer: devIssuerUrl(url, preset),
      sub,
      audience: values.aud ?? values.audience ?? url,
      claims,
      ttlSeconds: ttl,
      keyFile: devIssuerKeyFile(io.env),
    })
    io.stdout.write(`${token}\n`)
    return 0
  },
})

/** `k=v` sets a string; `k:=json` sets a typed JSON value (number, boolean, array). */
function splitClaim(text: string): [string, unknown] {
  const typed = /^([^=:]+):=(.*)$/s.exec(text)
  if (typed) {
    try {
      return [typed[1] as string, JSON.parse(typed[2] as string)]
    } catch {
      throw new UsageError(`--claim ${typed[1]}:= needs a JSON value`)
    }
  }
  const eq = text.indexOf('=')
  if (eq <= 0) throw new UsageError(`--claim ${text}: use key=value or key:=json`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

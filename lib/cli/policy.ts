import { parseArgs } from 'node:util'
import { createOidcVerifier } from '../assertion/oidc.js'
import { TokenTypes } from '../assertion/token-types.js'
import { builtinConfigText } from '../config/builtin.js'
import { type LoadedConfig, loadConfigFile, loadConfigText } from '../config/load.js'
import { ConfigError, UsageError } from '../errors.js'
import { FormParams } from '../http/form.js'
import { type Finding, hasLintErrors, lintConfig } from '../policy/lint.js'
import { formatFindings, LINT_FORMATS, type LintFormat } from '../policy/lint-format.js'
import { decodeToken, explainToken, providerForIssuer } from './policy-explain.js'
import { runPolicyTest } from './policy-test.js'
import { readTokenArg } from './token-arg.js'

/** Streams and dependencies of the policy commands (injected by tests). */
export interface PolicyIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean }
  readonly stderr: { write(text: string): unknown }
  readonly stdin: NodeJS.ReadableStream
  readonly fetch: typeof globalThis.fetch
  /** Epoch ms. */
  readonly now: () => number
}

const USAGE = `usage: tessera policy lint [F] [--format human|json|github]
       tessera policy explain [F] --token T|@file|- [--audience A]… [--resource R]… [--verify]
       tessera policy test [F] [--tests PATH] [--format human|json|github]

  F defaults to the built-in example config (as for tessera serve).
  lint exits 1 when there are errors; explain exits 1 when the broker would refuse the token.
  test runs F's policy tests (default: <F name>.test.yaml or tessera.test.yaml beside F, or every
  *.test.yaml under PATH) and exits 1 when one fails, 2 when a config or test file is invalid.
`

/** The base URL the built-in example uses when no config is given (serve's default). */
const BUILTIN_BASE_URL = 'http://127.0.0.1:8787'

async function load(file: string | undefined): Promise<LoadedConfig> {
  if (file === undefined) return loadConfigText(builtinConfigText(BUILTIN_BASE_URL), 'built-in example')
  return loadConfigFile(file)
}

function configFile(positionals: string[], flag: string | undefined): string | undefined {
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`)
  if (positionals.length === 1 && flag !== undefined) throw new UsageError('give the config file once')
  return positionals[0] ?? flag
}

/** A config that does not even load, as annotations when the format is github. */
function configErrorText(error: ConfigError, format: LintFormat): string {
  if (format === 'json') return `${JSON.stringify({ configErrors: error.issues }, null, 2)}\n`
  if (format !== 'github') return `${error.message}\n`
  return error.issues
    .map((issue) => {
      const m = /^(.*?):(\d+):(\d+): (.*)$/s.exec(issue)
      const props = m ? `file=${m[1]},line=${m[2]},col=${m[3]}` : `file=${error.file}`
      const text = (m ? m[4] : issue) ?? issue
      return `::error ${props},title=config::${text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}\n`
    })
    .join('')
}

async function runLint(argv: string[], io: PolicyIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { format: { type: 'string', default: 'human' }, config: { type: 'string', short: 'c' } },
    allowPositionals: true,
    strict: true,
  })
  const format = values.format as LintFormat
  if (!LINT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${LINT_FORMATS.join(', ')}`)
  const file = configFile(positionals, values.config)
  let loaded: LoadedConfig
  try {
    loaded = await load(file)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    io.stdout.write(configErrorText(error, format))
    return 1
  }
  const findings = lintConfig(loaded.config, loaded)
  io.stdout.write(formatFindings(findings, format, { color: io.stdout.isTTY === true }))
  return hasLintErrors(findings) ? 1 : 0
}

async function verifyToken(loaded: LoadedConfig, token: string, io: PolicyIo) {
  try {
    const provider = providerForIssuer(loaded.config, decodeToken(token).payload.iss)
    if (provider?.kind !== 'oidc') return { error: 'no oidc provider trusts this issuer' }
    const verifier = createOidcVerifier([provider], {
      fetch: io.fetch,
      now: io.now,
      brokerIssuer: loaded.config.issuer,
    })
    const subject = await verifier.verify({
      subjectToken: token,
      subjectTokenType: TokenTypes.jwt,
      params: new FormParams(new Map()),
      requestId: 'policy-explain',
      sourceIp: '127.0.0.1',
      now: io.now(),
    })
    return { claims: subject.claims }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

async function runExplain(argv: string[], io: PolicyIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      token: { type: 'string', short: 't' },
      audience: { type: 'string', multiple: true, default: [] },
      resource: { type: 'string', multiple: true, default: [] },
      verify: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    },
    allowPositionals: true,
    strict: true,
  })
  if (values.token === undefined) throw new UsageError('--token T|@file|- is required')
  const loaded = await load(configFile(positionals, values.config))
  const token = await readTokenArg(values.token, io.stdin)
  try {
    decodeToken(token)
  } catch (error) {
    io.stderr.write(`tessera policy explain: ${(error as Error).message}\n`)
    return 1
  }
  const verified = values.verify ? await verifyToken(loaded, token, io) : undefined
  const { text, allowed } = explainToken({
    config: loaded.config,
    token,
    audiences: values.audience,
    resources: values.resource,
    now: io.now(),
    color: io.stdout.isTTY === true,
    ...(verified ? { verified } : {}),
  })
  io.stdout.write(text)
  return allowed ? 0 : 1
}

/** `tessera policy lint|explain …`; returns the process exit code (2 for usage errors). */
export async function runPolicy(argv: string[], io: Partial<PolicyIo> = {}): Promise<number> {
  const full: PolicyIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    fetch: io.fetch ?? globalThis.fetch,
    now: io.now ?? Date.now,
  }
  const [command, ...rest] = argv
  try {
    if (command === 'lint') return await runLint(rest, full)
    if (command === 'explain') return await runExplain(rest, full)
    if (command === 'test') return await runPolicyTest(rest, { ...full, load, configFile })
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      full.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    }
    throw new UsageError(`unknown policy command "${command}"`)
  } catch (error) {
    // parseArgs reports unknown or malformed options with a TypeError carrying a code.
    const usage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    if (!usage) throw error
    full.stderr.write(`tessera policy: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
}

function startupLine(f: Finding): string {
  const at = f.line === undefined ? (f.file ?? '') : `${f.file}:${f.line}:${f.col ?? 1}`
  return `${at ? `${at}: ` : ''}${f.rule}: ${f.message} (hint: ${f.hint})`
}

/** The `serve` start-up check: lint errors refuse to start, warnings are printed. */
export function lintStartupCheck(loaded: LoadedConfig): { errors: string[]; warnings: string[] } {
  const findings = lintConfig(loaded.config, loaded)
  return {
    errors: findings.filter((f) => f.severity === 'error').map(startupLine),
    warnings: findings.filter((f) => f.severity === 'warning').map(startupLine),
  }
}

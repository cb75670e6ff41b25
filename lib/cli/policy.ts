import { createOidcVerifier } from '../assertion/oidc.js'
import { TokenTypes } from '../assertion/token-types.js'
import { builtinConfigText } from '../config/builtin.js'
import { type LoadedConfig, loadConfigFile, loadConfigText } from '../config/load.js'
import { ConfigError, UsageError } from '../errors.js'
import { FormParams } from '../http/form.js'
import { type Finding, hasLintErrors, lintConfig } from '../policy/lint.js'
import { formatFindings, LINT_FORMATS, type LintFormat } from '../policy/lint-format.js'
import { type CliIo, defineCommand, loaded, processIo, runCli } from './command.js'
import { CONFIG_FLAG, DEFAULT_BROKER_URL } from './common-flags.js'
import { decodeToken, explainToken, providerForIssuer } from './policy-explain.js'
import { runPolicyTest } from './policy-test.js'
import { readTokenArg } from './token-arg.js'

/** The base URL the built-in example uses when no config is given (serve's default). */
const BUILTIN_BASE_URL = DEFAULT_BROKER_URL

async function load(file: string | undefined): Promise<LoadedConfig> {
  if (file === undefined) return loadConfigText(builtinConfigText(BUILTIN_BASE_URL), 'built-in example')
  return loadConfigFile(file)
}

function configFile(positionals: readonly string[], flag: string | undefined): string | undefined {
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

async function verifyToken(loaded: LoadedConfig, token: string, io: CliIo) {
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

/** `tessera policy lint [F]`: findings; exit 1 on errors. */
export const policyLintCommand = defineCommand({
  name: 'policy lint',
  summary: 'check a config for risky or broken policies (exit 1 on errors)',
  synopsis: '[F] [--format human|json|github]',
  positionals: ['F'],
  flags: {
    config: CONFIG_FLAG,
    format: { type: 'string', default: 'human', value: 'F', help: `output: ${LINT_FORMATS.join(', ')}` },
  },
  examples: ['tessera policy lint tessera.yaml', 'tessera policy lint tessera.yaml --format github'],
  notes: 'F (or --config F) defaults to the built-in example config (as for tessera serve).',
  async run({ values, positionals }, io) {
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
  },
})

/** `tessera policy explain [F] --token T`: per policy and claim, what matched and why not. */
export const policyExplainCommand = defineCommand({
  name: 'policy explain',
  summary: 'show, per policy and per claim, why the broker would accept or refuse a token',
  synopsis: '[F] --token T|@file|- [--audience A]… [--resource R]… [--verify]',
  positionals: ['F'],
  flags: {
    config: CONFIG_FLAG,
    token: { type: 'string', short: 't', value: 'T|@file|-', help: 'the subject token to explain' },
    audience: { type: 'string', multiple: true, default: [], value: 'A', help: 'the audience requested' },
    resource: { type: 'string', multiple: true, default: [], value: 'R', help: 'the resource requested' },
    verify: { type: 'boolean', default: false, help: 'also verify the signature (fetches the JWKS)' },
  },
  examples: [
    'tessera policy explain tessera.yaml --token @token.jwt --audience https://api.example.com',
    'tessera dev-token --sub someone | tessera policy explain --token -',
  ],
  notes: 'Exit 1 when the broker would refuse the token. Never contacts the broker.',
  async run({ values, positionals }, io) {
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
  },
})

/** `tessera policy test [F]`: runs the config's policy tests; exit 1 on a failure, 2 on an invalid file. */
export const policyTestCommand = defineCommand({
  name: 'policy test',
  summary: 'run policy tests (expected allows and denials) against a config, without a broker',
  synopsis: '[F] [--tests PATH] [--format human|json|github]',
  positionals: ['F'],
  flags: {
    config: CONFIG_FLAG,
    tests: { type: 'string', value: 'PATH', help: 'a test file, or a folder searched for *.test.yaml' },
    format: { type: 'string', default: 'human', value: 'F', help: 'output: human, json, github' },
  },
  examples: [
    'tessera policy test tessera.yaml',
    'tessera policy test tessera.yaml --tests policies/ --format github',
  ],
  notes:
    'Default tests: <F name>.test.yaml or tessera.test.yaml beside F. Exit 1 when a test fails, 2 when a\nconfig or test file is invalid.',
  async run({ values, positionals }, io) {
    const argv = [
      ...positionals,
      ...(values.config === undefined ? [] : ['--config', values.config]),
      ...(values.tests === undefined ? [] : ['--tests', values.tests]),
      '--format',
      values.format,
    ]
    return runPolicyTest(argv, { stdout: io.stdout, stderr: io.stderr, load, configFile })
  },
})

const POLICY_COMMANDS = [policyLintCommand, policyExplainCommand, policyTestCommand]

/** `tessera policy lint|explain|test …` with some of the io injected (tests). */
export function runPolicy(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  return runCli(POLICY_COMMANDS.map(loaded), ['policy', ...argv], { ...processIo(), ...io })
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

/** `tessera policy test [F] [--tests PATH] [--format human|json|github]`. */
import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { formatPath, type LoadedConfig } from '../config/load.js'
import { ConfigError, PolicyCompileError, PolicyTestFileError, UsageError } from '../errors.js'
import { type CompiledPolicies, compilePolicies } from '../policy/compile.js'
import { painter } from '../policy/explain-text.js'
import { findTestFiles, type LocatedTest, readTestFile, TEST_FILE_SUFFIX } from '../policy/test-file.js'
import { formatTestResults, TEST_FORMATS, type TestFormat } from '../policy/test-format.js'
import { runPolicyTests } from '../policy/test-run.js'

/** What the test command needs from the policy CLI. */
export interface PolicyTestDeps {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean }
  readonly stderr: { write(text: string): unknown }
  /** Loads the config (the built-in example when `file` is undefined). */
  readonly load: (file: string | undefined) => Promise<LoadedConfig>
  /** The config file argument (positional or --config), validated by the caller. */
  readonly configFile: (positionals: string[], flag: string | undefined) => string | undefined
}

/** Compiles with guardrails: a config the broker would refuse cannot pass its tests. */
function compile(loaded: LoadedConfig): CompiledPolicies {
  try {
    return compilePolicies(loaded.config)
  } catch (error) {
    if (!(error instanceof AggregateError)) throw error
    throw new ConfigError(
      loaded.file,
      error.errors.map((e) =>
        e instanceof PolicyCompileError
          ? `${loaded.locatePath?.(e.path) ?? ''}${formatPath(e.path)}: ${e.message}`
          : String(e),
      ),
    )
  }
}

/** Default tests beside the config: `<name>.test.yaml`, then `tessera.test.yaml`. */
function defaultTestFile(configFile: string): string {
  const dir = dirname(configFile)
  const stem = basename(configFile).replace(/\.ya?ml$/, '')
  const candidates = [
    ...new Set([join(dir, `${stem}${TEST_FILE_SUFFIX}`), join(dir, `tessera${TEST_FILE_SUFFIX}`)]),
  ]
  const found = candidates.find((c) => existsSync(c))
  if (!found)
    throw new PolicyTestFileError(configFile, [
      `no test file: looked for ${candidates.join(' and ')} (or pass --tests PATH)`,
    ])
  return found
}

function readTests(files: readonly string[]): LocatedTest[] {
  const tests: LocatedTest[] = []
  const issues: string[] = []
  for (const file of files) {
    try {
      tests.push(...readTestFile(file))
    } catch (error) {
      if (!(error instanceof PolicyTestFileError)) throw error
      issues.push(...error.issues)
    }
  }
  if (issues.length > 0)
    throw new PolicyTestFileError(files.length === 1 ? (files[0] ?? '') : 'policy tests', issues)
  return tests
}

/** Runs the command; exit 0 all passed, 1 a test failed, 2 a config or test file error (UsageError: the caller's 2). */
export async function runPolicyTest(argv: string[], deps: PolicyTestDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      tests: { type: 'string' },
      format: { type: 'string', default: 'human' },
      config: { type: 'string', short: 'c' },
    },
    allowPositionals: true,
    strict: true,
  })
  const format = values.format as TestFormat
  if (!TEST_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${TEST_FORMATS.join(', ')}`)
  const file = deps.configFile(positionals, values.config)
  if (file === undefined && values.tests === undefined)
    throw new UsageError('--tests PATH is required with the built-in example config')
  try {
    const loaded = await deps.load(file)
    const compiled = compile(loaded)
    const files = values.tests !== undefined ? findTestFiles(values.tests) : [defaultTestFile(file ?? '')]
    const color = format === 'human' && deps.stdout.isTTY === true
    const results = runPolicyTests(loaded.config, compiled, readTests(files), painter(color))
    deps.stdout.write(formatTestResults(results, format, color))
    return results.every((r) => r.passed) ? 0 : 1
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof PolicyTestFileError)) throw error
    deps.stderr.write(`tessera policy test: ${error.message}\n`)
    return 2
  }
}

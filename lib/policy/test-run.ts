/**
 * `tessera policy test`: runs test cases through the real policy engine (no signature check, no
 * store) and reports each failure with the explanation `tessera policy explain` gives.
 */
import type { Config } from '../config/schema.js'
import { PolicyTestFileError } from '../errors.js'
import type { CompiledPolicies } from './compile.js'
import { explainClaims, type Paint, painter } from './explain-text.js'
import type { LocatedTest, PolicyTest } from './test-file.js'
import type { Decision } from './types.js'

/** The outcome of one test. */
export interface TestResult {
  readonly file: string
  readonly line: number
  readonly name: string
  readonly passed: boolean
  readonly expected: string
  readonly actual: string
  /** The explanation (failures only), as `policy explain` prints it. */
  readonly explanation?: readonly string[]
}

const list = (v: string | readonly string[] | undefined): readonly string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v

function expectedText(expect: PolicyTest['expect']): string {
  if (expect.allow) return expect.policy ? `allow by policy ${expect.policy}` : 'allow'
  return expect.error ? `deny (${expect.error})` : 'deny'
}

function actualText(decision: Decision): string {
  return decision.allow
    ? `allow by policy ${decision.policy}`
    : `deny (${decision.error}): ${decision.message}`
}

function holds(expect: PolicyTest['expect'], decision: Decision): boolean {
  if (expect.allow)
    return decision.allow && (expect.policy === undefined || decision.policy === expect.policy)
  return !decision.allow && (expect.error === undefined || decision.error === expect.error)
}

/** Providers and expected policies the config does not have: the test file is wrong, not the policy. */
function checkNames(config: Config, tests: readonly LocatedTest[]): void {
  const providers = new Set(config.providers.map((p) => p.name))
  const policies = new Set(config.policies.map((p) => p.name))
  const problems = new Map<string, string[]>()
  for (const { file, line, test } of tests) {
    const add = (message: string) => {
      const list = problems.get(file) ?? []
      list.push(`${file}:${line}: test '${test.name}': ${message}`)
      problems.set(file, list)
    }
    if (!providers.has(test.provider)) add(`provider '${test.provider}' is not configured`)
    if (test.expect.allow && test.expect.policy !== undefined && !policies.has(test.expect.policy))
      add(`expected policy '${test.expect.policy}' is not configured`)
  }
  const [first] = problems
  if (first) throw new PolicyTestFileError(first[0], [...problems.values()].flat())
}

/** Runs the tests; throws PolicyTestFileError when a test names a provider or policy the config lacks. */
export function runPolicyTests(
  config: Config,
  compiled: CompiledPolicies,
  tests: readonly LocatedTest[],
  paint: Paint = painter(false),
): TestResult[] {
  checkNames(config, tests)
  const providers = new Map(config.providers.map((p) => [p.name, p]))
  return tests.map(({ file, line, test }) => {
    const provider = providers.get(test.provider)
    if (!provider) throw new Error('unreachable: providers are checked first')
    const { decision, lines } = explainClaims(
      {
        config,
        compiled,
        provider,
        claims: test.claims,
        audiences: list(test.request.audience),
        resources: list(test.request.resource),
        scopes: test.request.scope?.split(' ').filter((s) => s.length > 0),
      },
      paint,
    )
    const passed = holds(test.expect, decision)
    const base = {
      file,
      line,
      name: test.name,
      passed,
      expected: expectedText(test.expect),
      actual: actualText(decision),
    }
    return passed ? base : { ...base, explanation: lines }
  })
}

import type { Document, LineCounter } from 'yaml'
import { locate } from '../config/locate.js'
import type { Config } from '../config/schema.js'
import { PolicyCompileError } from '../errors.js'
import { compilePolicies } from './compile.js'
import { claimTypeRule, regexShapeRule, unknownClaimRule } from './lint-rules-claims.js'
import {
  type ConfigRule,
  type Finding,
  type PolicyRule,
  policyContexts,
  type RawFinding,
} from './lint-rules-context.js'
import {
  githubAllRepositoriesRule,
  githubPermissionDangerousRule,
  githubPermissionUnknownRule,
} from './lint-rules-github.js'
import { overlappingGrantRule, ttlRule } from './lint-rules-grant.js'
import { identityUnpinnedRule, nameWithoutIdRule, presenceRoleUnpinnedRule } from './lint-rules-identity.js'
import { audienceRule, tenantUnpinnedRule } from './lint-rules-provider.js'
import { broadSubjectRule, githubSubFormsRule } from './lint-rules-subject.js'

export type { Finding, Severity } from './lint-rules-context.js'

/** Where the config came from, to give findings a file:line:col. */
export interface LintSource {
  readonly file: string
  readonly doc: Document
  readonly lineCounter: LineCounter
  /** Follows a path into the file it was written in (policy folders, a guardrails file). */
  readonly place?: (path: readonly (string | number)[]) => {
    readonly file: string
    readonly line?: number
    readonly col?: number
  }
}

const CONFIG_RULES: readonly ConfigRule[] = [tenantUnpinnedRule, audienceRule, ttlRule, overlappingGrantRule]

const POLICY_RULES: readonly PolicyRule[] = [
  identityUnpinnedRule,
  broadSubjectRule,
  nameWithoutIdRule,
  presenceRoleUnpinnedRule,
  githubSubFormsRule,
  unknownClaimRule,
  claimTypeRule,
  regexShapeRule,
  githubPermissionUnknownRule,
  githubPermissionDangerousRule,
  githubAllRepositoriesRule,
]

/** Compile problems (bad regex, unknown provider, duplicate names) as findings. */
function compileFindings(config: Config): RawFinding[] {
  try {
    compilePolicies(config)
    return []
  } catch (error) {
    const errors = error instanceof AggregateError ? error.errors : [error]
    return errors.map((e) => {
      const guardrail = e instanceof PolicyCompileError ? e.rule : undefined
      return {
        rule: guardrail ?? 'invalid-policy',
        severity: 'error',
        message: e instanceof Error ? e.message : String(e),
        hint: guardrail
          ? 'narrow the policy to within the guardrail (its owners set it apart from the policies); the broker refuses to start with it'
          : 'fix the policy: the broker refuses to start with it',
        path: e instanceof PolicyCompileError ? e.path : ['policies'],
      }
    })
  }
}

/** A rule that throws must not let a config through unchecked: it becomes an error finding. */
function run<T>(rule: (arg: T) => RawFinding[], arg: T, name: string): RawFinding[] {
  try {
    return rule(arg)
  } catch (error) {
    return [
      {
        rule: 'lint-internal',
        severity: 'error',
        message: `lint rule ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
        hint: 'report this as a Tessera bug',
        path: [],
      },
    ]
  }
}

function placed(finding: RawFinding, source: LintSource | undefined): Finding {
  if (!source) return finding
  if (source.place) {
    const at = source.place(finding.path)
    return at.line === undefined
      ? { ...finding, file: at.file }
      : { ...finding, file: at.file, line: at.line, col: at.col ?? 1 }
  }
  const at = locate(source.doc, source.lineCounter, finding.path)
  return at
    ? { ...finding, file: source.file, line: at.line, col: at.col }
    : { ...finding, file: source.file }
}

/**
 * Lints a validated config: every finding names its rule, severity, config path and a fix hint
 * (and file:line:col when `source` is given). `tessera serve` refuses to start on any error.
 */
export function lintConfig(config: Config, source?: LintSource): Finding[] {
  const raw: RawFinding[] = compileFindings(config)
  for (const rule of CONFIG_RULES) raw.push(...run(rule, config, rule.name))
  for (const ctx of policyContexts(config)) {
    for (const rule of POLICY_RULES) raw.push(...run(rule, ctx, rule.name))
  }
  const findings = raw.map((f) => placed(f, source))
  // Source order reads best; without a source the rule order above is kept (sort is stable).
  return findings.sort(
    (a, b) =>
      fileOrder(a.file, b.file, source?.file) || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0),
  )
}

/** The config file first, then included files by name. */
function fileOrder(a: string | undefined, b: string | undefined, main: string | undefined): number {
  if (a === b) return 0
  if (a === main) return -1
  if (b === main) return 1
  return (a ?? '') < (b ?? '') ? -1 : 1
}

/** True when any finding is an error (lint exits 1, serve refuses to start). */
export function hasLintErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error')
}

import type * as z from 'zod'
import { awsGrantIssues } from '../credentials/aws-session.js'
import { unknownRequireClaimsKeys } from '../policy/guardrails.js'
import { PRESET_NAMES } from './presets.js'
import type { Config } from './schema.js'

/** A validated config and where it came from; what the broker needs, whatever the source format. */
export interface CheckedConfig {
  readonly config: Config
  readonly file: string
  /**
   * `file:line:col: ` for a config path when the source has positions (YAML); absent for JSON,
   * whose messages then name the file and the path only.
   */
  readonly locatePath?: ((path: readonly PropertyKey[]) => string) | undefined
}

/** One problem: where in the config (a path) and what. */
export type ConfigProblem = readonly [path: readonly PropertyKey[], message: string]

/** Formats a config path as `policies[2].match.ref.glob`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out ? `.${String(part)}` : String(part)
  }
  return out || '(root)'
}

/**
 * Schema issues as problems. An unknown key is reported at the key itself (zod places it on the
 * enclosing object, whose first line may be far above the typo), one problem per key.
 */
export function schemaProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.flatMap((i): ConfigProblem[] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((key) => [[...i.path, key], `unknown key '${key}'`] as const)
      : [[i.path, i.message] as const],
  )
}

/** One message per problem: `<where>path: message`, `where` giving `file:line:col: ` or `file: `. */
export function describeProblems(
  problems: readonly ConfigProblem[],
  where: (path: readonly PropertyKey[]) => string,
): string[] {
  return problems.map(([path, message]) => `${where(path)}${formatPath(path)}: ${message}`)
}

/** Checks across sections that zod cannot see: names unique, issuers unambiguous, AWS grants well-formed. */
export function crossCheck(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const names = new Map<string, number>()
  const issuers = new Map<string, string>()
  config.providers.forEach((p, i) => {
    if (names.has(p.name)) problems.push([['providers', i, 'name'], `duplicate provider name '${p.name}'`])
    names.set(p.name, i)
    if (p.kind !== 'oidc') return
    for (const iss of [p.issuer, ...p.issuerAliases]) {
      const other = issuers.get(iss)
      if (other)
        problems.push([['providers', i, 'issuer'], `issuer ${iss} is already used by provider '${other}'`])
      issuers.set(iss, p.name)
    }
    if (p.issuer === config.issuer) {
      problems.push([['providers', i, 'issuer'], "a provider cannot trust Tessera's own issuer"])
    }
  })
  for (const key of unknownRequireClaimsKeys(config, PRESET_NAMES))
    problems.push([['guardrails', 'requireClaims', key], `'${key}' names neither a provider nor a preset`])
  config.policies.forEach((p, i) => {
    if (!p.grant.aws) return
    for (const issue of awsGrantIssues(p.grant.aws))
      problems.push([['policies', i, 'grant', 'aws', ...issue.path], issue.message])
  })
  return problems
}

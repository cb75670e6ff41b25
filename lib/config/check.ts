import type * as z from 'zod'
import { unknownRequireClaimsKeys } from '../policy/guardrails.js'
import { awsGrantIssues } from './aws-grant.js'
import { githubProblems } from './github.js'
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
  problems.push(...approvalProblems(config))
  problems.push(...githubProblems(config))
  return problems
}

/** The scope an approver's Tessera token must hold. */
export const APPROVE_SCOPE = 'tessera:approve'

/**
 * Approval and delegation references: `approvers.policy` names another policy that mints
 * tessera:approve tokens for this broker (never for an actor), and `actor.provider` names an oidc provider.
 */
function approvalProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const policies = new Map(config.policies.map((p) => [p.name, p]))
  const kinds = new Map(config.providers.map((p) => [p.name, p.kind]))
  config.policies.forEach((p, i) => {
    const approval = p.grant.approval
    if (approval) {
      const path = ['policies', i, 'grant', 'approval', 'approvers', 'policy']
      const approvers = policies.get(approval.approvers.policy)
      if (!approvers) problems.push([path, `no policy named ${approval.approvers.policy} is configured`])
      else if (approvers.name === p.name) problems.push([path, 'a policy cannot approve its own requests'])
      // Its tokens would carry `act`: the actor (an agent) would decide in its human's name.
      else if (approvers.actor)
        problems.push([path, `policy ${approvers.name} has an actor; approvers must decide themselves`])
      else if (!grantsApproverTokens(approvers, config.issuer)) {
        problems.push([
          path,
          `policy ${approvers.name} does not grant scope ${APPROVE_SCOPE} with audience ${config.issuer}`,
        ])
      }
    }
    if (p.actor) {
      const kind = kinds.get(p.actor.provider)
      const path = ['policies', i, 'actor', 'provider']
      if (kind === undefined) problems.push([path, `no provider named ${p.actor.provider} is configured`])
      else if (kind !== 'oidc') problems.push([path, 'an actor provider must be of kind oidc'])
    }
  })
  return problems
}

function grantsApproverTokens(policy: Config['policies'][number], issuer: string): boolean {
  const token = policy.grant.token
  if (!token?.scopes.includes(APPROVE_SCOPE)) return false
  const audiences = typeof token.audience === 'string' ? [token.audience] : token.audience
  return audiences.includes(issuer)
}

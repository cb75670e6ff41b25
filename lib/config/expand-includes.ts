/**
 * Config parts kept in their own files, so each can have its own code owners: `policies: { dir }`
 * (every `*.yaml` there holds a list of policies) and `guardrails: { file }` (owned by a security
 * team). Relative paths resolve from the config file's folder. The expanded config is validated
 * as one; every problem still names the file it comes from.
 */
import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import { readTextFile } from '../text/read-text-file.js'
import { MAX_CONFIG_BYTES } from './lambda-source.js'
import { parseStrictYaml, type YamlSource } from './parse-yaml.js'

/** Where one policy of the expanded config was written: its file and its index there. */
export interface PolicyOrigin {
  readonly source: YamlSource
  readonly index: number
}

/** A raw config with its includes read in. */
export interface ExpandedConfig {
  readonly raw: unknown
  /** Per policy of the expanded config, where it came from; undefined when policies are inline. */
  readonly policyOrigins?: readonly PolicyOrigin[] | undefined
  /** The guardrails file, when `guardrails: { file }` was used. */
  readonly guardrailsSource?: YamlSource | undefined
}

/** Bounds a policy folder: more files than this is a wrong path, not a config. */
const MAX_POLICY_FILES = 1000
/** Test files may sit beside the policies they test (`tessera policy test`). */
const TEST_FILE_SUFFIX = '.test.yaml'

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `{ <key>: "<path>" }` and nothing else, or a problem message. */
function onlyPath(value: Record<string, unknown>, key: string, where: string): string {
  const path = value[key]
  if (Object.keys(value).length !== 1 || typeof path !== 'string' || path.length === 0)
    throw new Error(
      `${where} must be { ${key}: <path> } when it names a ${key === 'dir' ? 'folder' : 'file'}`,
    )
  return path
}

function readYaml(path: string): YamlSource {
  let text: string
  try {
    text = readTextFile(path, MAX_CONFIG_BYTES)
  } catch (err) {
    throw new ConfigError(path, [`${path}: cannot read: ${(err as Error).message}`])
  }
  return parseStrictYaml(text, path)
}

function readPolicyDir(dir: string): { policies: unknown[]; origins: PolicyOrigin[] } {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new ConfigError(dir, [`${dir}: cannot read the policies folder: ${(err as Error).message}`])
  }
  // Sorted: the first matching policy answers, so the order must not depend on the file system.
  const files = names.filter((n) => n.endsWith('.yaml') && !n.endsWith(TEST_FILE_SUFFIX)).sort()
  if (files.length > MAX_POLICY_FILES)
    throw new ConfigError(dir, [`${dir}: more than ${MAX_POLICY_FILES} policy files`])
  const policies: unknown[] = []
  const origins: PolicyOrigin[] = []
  const problems: string[] = []
  for (const name of files) {
    const source = readYaml(join(dir, name))
    if (source.js === null || source.js === undefined) continue // an empty file holds no policy
    if (!Array.isArray(source.js)) {
      problems.push(`${source.file}: must be a list of policies (- name: …)`)
      continue
    }
    source.js.forEach((policy, index) => {
      policies.push(policy)
      origins.push({ source, index })
    })
  }
  if (problems.length > 0) throw new ConfigError(dir, problems)
  return { policies, origins }
}

/**
 * Reads `policies: { dir }` and `guardrails: { file }` into the raw config. `baseDir` is the config
 * file's folder; without one (a config given as text) includes are refused.
 */
export function expandIncludes(raw: unknown, file: string, baseDir: string | undefined): ExpandedConfig {
  if (!isPlainObject(raw)) return { raw }
  const policies = raw.policies
  const guardrails = raw.guardrails
  const includesPolicies = isPlainObject(policies) && 'dir' in policies
  const includesGuardrails = isPlainObject(guardrails) && 'file' in guardrails
  if (!includesPolicies && !includesGuardrails) return { raw }
  const out: Record<string, unknown> = { ...raw }
  let policyOrigins: PolicyOrigin[] | undefined
  let guardrailsSource: YamlSource | undefined
  try {
    if (baseDir === undefined)
      throw new Error(
        'policies: { dir } and guardrails: { file } need a config file (paths resolve from its folder)',
      )
    if (includesPolicies) {
      const dir = resolve(baseDir, onlyPath(policies, 'dir', 'policies'))
      const read = readPolicyDir(dir)
      out.policies = read.policies
      policyOrigins = read.origins
    }
    if (includesGuardrails) {
      guardrailsSource = readYaml(resolve(baseDir, onlyPath(guardrails, 'file', 'guardrails')))
      out.guardrails = guardrailsSource.js
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(file, [`${file}: ${(err as Error).message}`])
  }
  return { raw: out, policyOrigins, guardrailsSource }
}

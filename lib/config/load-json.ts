import { ConfigError } from '../errors.js'
import { type CheckedConfig, crossCheck, describeProblems, schemaProblems } from './check.js'
import { ConfigSchema } from './schema.js'

/**
 * Parses and validates a JSON config — the form scripts/bundle.ts deploys to Lambda (converted from
 * the reviewed YAML at build time), so a cold start needs no YAML parser. Same schema and checks as
 * the YAML loader; problems name the file and the path (JSON has no useful positions). Unlike the
 * YAML loader it cannot see a duplicated key (JSON.parse keeps the last): hand-written configs
 * belong in YAML.
 */
export function loadConfigJson(text: string, file: string): CheckedConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(file, [`${file}: invalid JSON: ${(err as Error).message}`])
  }
  const at = () => `${file}: `
  const result = ConfigSchema.safeParse(raw)
  if (!result.success) throw new ConfigError(file, describeProblems(schemaProblems(result.error.issues), at))
  const problems = crossCheck(result.data)
  if (problems.length > 0) throw new ConfigError(file, describeProblems(problems, at))
  return { config: result.data, file }
}

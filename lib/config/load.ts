import { readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Document, LineCounter } from 'yaml'
import { ConfigError } from '../errors.js'
import {
  type CheckedConfig,
  type ConfigProblem,
  crossCheck,
  describeProblems,
  schemaProblems,
} from './check.js'
import { type ExpandedConfig, expandIncludes } from './expand-includes.js'
import { MAX_CONFIG_BYTES } from './lambda-source.js'
import { locate } from './locate.js'
import { parseStrictYaml } from './parse-yaml.js'
import { type Config, ConfigSchema } from './schema.js'

export { formatPath } from './check.js'

/** Where a config path was written: its file and, when known, line and column. */
export interface Placement {
  readonly file: string
  readonly line?: number
  readonly col?: number
}

/** A validated config loaded from YAML, with its document for error and lint locations. */
export interface LoadedConfig extends CheckedConfig {
  readonly doc: Document
  readonly lineCounter: LineCounter
  /** The file, line and column of a config path, following policies and guardrails into their own files. */
  readonly place: (path: readonly (string | number)[]) => Placement
}

/** Options for {@link loadConfigText}. */
export interface LoadOptions {
  /** The config file's folder: `policies: { dir }` and `guardrails: { file }` resolve from it. */
  readonly baseDir?: string
}

/** Maps a path of the expanded config to the file, document and path it was written at. */
function placer(
  main: { file: string; doc: Document; lineCounter: LineCounter },
  expanded: ExpandedConfig,
): (path: readonly (string | number)[]) => Placement {
  return (path) => {
    let source = main
    let inner = path
    const [head, index] = path
    const origin =
      head === 'policies' && typeof index === 'number' ? expanded.policyOrigins?.[index] : undefined
    if (origin) {
      source = origin.source
      inner = [origin.index, ...path.slice(2)]
    } else if (head === 'guardrails' && expanded.guardrailsSource) {
      source = expanded.guardrailsSource
      inner = path.slice(1)
    }
    const pos = locate(source.doc, source.lineCounter, inner)
    return pos ? { file: source.file, line: pos.line, col: pos.col } : { file: source.file }
  }
}

/** Policy names repeated across policy files: each problem names the other file. */
function namesAcrossFiles(config: Config, expanded: ExpandedConfig): ConfigProblem[] {
  const origins = expanded.policyOrigins
  if (!origins) return []
  const problems: ConfigProblem[] = []
  const first = new Map<string, number>()
  config.policies.forEach((policy, i) => {
    const seen = first.get(policy.name)
    if (seen === undefined) {
      first.set(policy.name, i)
      return
    }
    const other = origins[seen]?.source.file ?? 'another file'
    problems.push([['policies', i, 'name'], `policy name '${policy.name}' is already defined in ${other}`])
  })
  return problems
}

/** Parses and validates config YAML; every problem names the file, the path and line:col. */
export function loadConfigText(text: string, file: string, opts: LoadOptions = {}): LoadedConfig {
  const main = parseStrictYaml(text, file)
  const expanded = expandIncludes(main.js, file, opts.baseDir)
  const place = placer(main, expanded)
  const locatePath = (path: readonly PropertyKey[]) => {
    const at = place(path.filter((p): p is string | number => typeof p !== 'symbol'))
    return at.line === undefined ? `${at.file}: ` : `${at.file}:${at.line}:${at.col}: `
  }
  const result = ConfigSchema.safeParse(expanded.raw)
  if (!result.success)
    throw new ConfigError(file, describeProblems(schemaProblems(result.error.issues), locatePath))
  const config = result.data
  const problems = [...namesAcrossFiles(config, expanded), ...crossCheck(config)]
  if (problems.length > 0) throw new ConfigError(file, describeProblems(problems, locatePath))
  return { config, file, doc: main.doc, lineCounter: main.lineCounter, locatePath, place }
}

/** Reads and validates a config file (at most 1 MiB, like the Lambda path). */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let text: string
  try {
    if ((await stat(path)).size > MAX_CONFIG_BYTES)
      throw new Error(`the file is larger than ${MAX_CONFIG_BYTES} bytes`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(path, [`cannot read: ${(err as Error).message}`])
  }
  return loadConfigText(text, path, { baseDir: dirname(path) })
}

/** `file:line:col: ` for the YAML node at `path` (or its nearest existing parent). */
export function where(file: string, doc: Document, lc: LineCounter, path: readonly PropertyKey[]): string {
  const pos = locate(
    doc,
    lc,
    path.filter((p): p is string | number => typeof p !== 'symbol'),
  )
  return pos ? `${file}:${pos.line}:${pos.col}: ` : `${file}: `
}

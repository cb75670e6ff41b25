import { readFile, stat } from 'node:fs/promises'
import { type Document, isScalar, LineCounter, parseDocument } from 'yaml'
import { ConfigError } from '../errors.js'
import { type CheckedConfig, crossCheck, describeProblems, schemaProblems } from './check.js'
import { MAX_CONFIG_BYTES } from './lambda-source.js'
import { locate } from './locate.js'
import { ConfigSchema } from './schema.js'

export { formatPath } from './check.js'

/** A validated config loaded from YAML, with its document for error and lint locations. */
export interface LoadedConfig extends CheckedConfig {
  readonly doc: Document
  readonly lineCounter: LineCounter
}

/** Parses and validates config YAML; every problem names the file, the path and line:col. */
export function loadConfigText(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: sameKey, prettyErrors: true })
  // Warnings (an unresolved `!tag`, …) are errors too: a config means exactly what it says or nothing.
  const parseProblems = [...doc.errors, ...doc.warnings]
  if (parseProblems.length > 0) {
    throw new ConfigError(
      file,
      parseProblems.map((e) => {
        const pos = e.linePos?.[0]
        return `${pos ? `${file}:${pos.line}:${pos.col}: ` : ''}${e.message.split('\n')[0]}`
      }),
    )
  }
  const locatePath = (path: readonly PropertyKey[]) => where(file, doc, lineCounter, path)
  let js: unknown
  try {
    js = doc.toJS({ maxAliasCount: 50 })
  } catch (err) {
    // yaml refuses alias bombs (and similar) here, with a plain Error.
    throw new ConfigError(file, [`${file}: ${(err as Error).message}`])
  }
  const result = ConfigSchema.safeParse(js)
  if (!result.success)
    throw new ConfigError(file, describeProblems(schemaProblems(result.error.issues), locatePath))
  const config = result.data
  const problems = crossCheck(config)
  if (problems.length > 0) throw new ConfigError(file, describeProblems(problems, locatePath))
  return { config, file, doc, lineCounter, locatePath }
}

/**
 * Keys equal once converted to JavaScript (`1` and `"1"`, `true` and `"true"`) are duplicates: the
 * object would silently keep the last one.
 */
function sameKey(a: unknown, b: unknown): boolean {
  if (isScalar(a) && isScalar(b)) return String(a.value) === String(b.value)
  return a === b
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
  return loadConfigText(text, path)
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

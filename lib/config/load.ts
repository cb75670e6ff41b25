import { readFile } from 'node:fs/promises'
import { type Document, LineCounter, parseDocument } from 'yaml'
import { ConfigError } from '../errors.js'
import { type CheckedConfig, crossCheck, describeProblems, schemaProblems } from './check.js'
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
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0]
        return `${pos ? `${file}:${pos.line}:${pos.col}: ` : ''}${e.message.split('\n')[0]}`
      }),
    )
  }
  const locatePath = (path: readonly PropertyKey[]) => where(file, doc, lineCounter, path)
  const result = ConfigSchema.safeParse(doc.toJS({ maxAliasCount: 50 }))
  if (!result.success)
    throw new ConfigError(file, describeProblems(schemaProblems(result.error.issues), locatePath))
  const config = result.data
  const problems = crossCheck(config)
  if (problems.length > 0) throw new ConfigError(file, describeProblems(problems, locatePath))
  return { config, file, doc, lineCounter, locatePath }
}

/** Reads and validates a config file. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let text: string
  try {
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

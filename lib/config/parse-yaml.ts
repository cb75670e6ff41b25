import { type Document, isScalar, LineCounter, parseDocument } from 'yaml'
import { ConfigError } from '../errors.js'

/** One YAML file, parsed strictly, with its document for error and lint locations. */
export interface YamlSource {
  readonly file: string
  readonly doc: Document
  readonly lineCounter: LineCounter
  readonly js: unknown
}

/**
 * Keys equal once converted to JavaScript (`1` and `"1"`, `true` and `"true"`) are duplicates: the
 * object would silently keep the last one.
 */
function sameKey(a: unknown, b: unknown): boolean {
  if (isScalar(a) && isScalar(b)) return String(a.value) === String(b.value)
  return a === b
}

/**
 * Parses YAML the way every Tessera file (config, policy files, guardrails, policy tests) is read:
 * duplicate keys, warnings (an unresolved `!tag`, …) and alias bombs are errors, so a file means
 * exactly what it says or nothing. Throws ConfigError naming `file:line:col`.
 */
export function parseStrictYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: sameKey, prettyErrors: true })
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
  let js: unknown
  try {
    js = doc.toJS({ maxAliasCount: 50 })
  } catch (err) {
    // yaml refuses alias bombs (and similar) here, with a plain Error.
    throw new ConfigError(file, [`${file}: ${(err as Error).message}`])
  }
  return { file, doc, lineCounter, js }
}

import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
} from 'yaml'

export interface SourcePosition {
  /** 1-based line. */
  readonly line: number
  /** 1-based column. */
  readonly col: number
}

/** Bounds alias chains (`*a` → `&a` → …) so a hostile document cannot loop us. */
const MAX_ALIAS_HOPS = 32

function resolveAlias(doc: Document, node: unknown): unknown {
  let current = node
  for (let hop = 0; hop < MAX_ALIAS_HOPS && isAlias(current); hop++) current = current.resolve(doc)
  return current
}

function startOf(node: unknown, lineCounter: LineCounter): SourcePosition | undefined {
  if (!isNode(node)) return undefined
  const offset = (node as Node).range?.[0]
  return offset === undefined ? undefined : lineCounter.linePos(offset)
}

/**
 * Maps a config path such as `['policies', 2, 'match', 'sub']` to its line and column in the YAML
 * source. A map entry is located at its key (`sub:`), a sequence item at its first character.
 * When the path runs past what the document holds (a key that is absent, e.g. a missing
 * `audiences`), the deepest existing ancestor is returned, so a finding about something missing
 * still points at the object it is missing from. Undefined only for an empty document.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly (string | number)[],
): SourcePosition | undefined {
  let node: unknown = resolveAlias(doc, doc.contents)
  let position = startOf(node, lineCounter)
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(doc, p.key) === String(segment))
      if (!pair) break
      position = startOf(pair.key, lineCounter) ?? position
      node = resolveAlias(doc, pair.value)
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment]
      if (item === undefined) break
      node = resolveAlias(doc, item)
      position = startOf(item, lineCounter) ?? position
    } else {
      break
    }
  }
  return position
}

function keyText(doc: Document, key: unknown): string | undefined {
  const resolved = resolveAlias(doc, key)
  if (isScalar(resolved)) return String(resolved.value)
  return typeof resolved === 'string' || typeof resolved === 'number' ? String(resolved) : undefined
}

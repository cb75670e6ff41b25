import { StrictJsonError } from '../errors.js'

const OPEN_OBJECT = 0x7b // {
const CLOSE_OBJECT = 0x7d // }
const OPEN_ARRAY = 0x5b // [
const CLOSE_ARRAY = 0x5d // ]
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \
const COLON = 0x3a // :

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

/**
 * JSON.parse, except that an object repeating a member name (compared after unescaping, so
 * `"a"` and `"\u0061"` collide) is refused at any depth. JSON.parse alone keeps the last value,
 * which lets two parsers of the same signed text disagree about what it says.
 */
export function parseJsonStrict(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new StrictJsonError('not valid JSON')
  }
  // Fast path: objects with fewer than two members cannot repeat a name.
  if (text.indexOf(':') !== text.lastIndexOf(':')) assertNoDuplicateNames(text)
  return value
}

/**
 * Scans text already known to be valid JSON: only strings and brackets matter, and a string is a
 * member name exactly when the next non-space character is a colon. One pass, no recursion.
 */
function assertNoDuplicateNames(text: string): void {
  // One entry per open container: a Set of names for objects, null for arrays.
  const stack: (Set<string> | null)[] = []
  const length = text.length
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code === OPEN_OBJECT) stack.push(new Set())
    else if (code === OPEN_ARRAY) stack.push(null)
    else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) stack.pop()
    else if (code === QUOTE) {
      const start = i
      let escaped = false
      for (i++; i < length; i++) {
        const c = text.charCodeAt(i)
        if (c === BACKSLASH) {
          escaped = true
          i++ // skip the escaped character (a quote or backslash must not end the string)
        } else if (c === QUOTE) break
      }
      let j = i + 1
      while (j < length && isJsonSpace(text.charCodeAt(j))) j++
      if (j >= length || text.charCodeAt(j) !== COLON) continue
      const names = stack[stack.length - 1]
      if (!names) continue
      const raw = text.slice(start, i + 1)
      const name = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1)
      if (names.has(name)) throw new StrictJsonError(`duplicate member name at offset ${start}`)
      names.add(name)
    }
  }
}

import { InvalidRequest, PayloadTooLarge, UnsupportedMediaType } from '../errors.js'

export const MAX_BODY_BYTES = 64 * 1024
const FORM_TYPE = 'application/x-www-form-urlencoded'

/** Parsed form parameters; each name maps to its non-empty values in order. */
export class FormParams {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /** The single value of `name`, or undefined when absent. */
  get(name: string): string | undefined {
    return this.values.get(name)?.[0]
  }

  getAll(name: string): readonly string[] {
    return this.values.get(name) ?? []
  }

  has(name: string): boolean {
    return this.values.has(name)
  }

  names(): IterableIterator<string> {
    return this.values.keys()
  }
}

/**
 * Parses an `application/x-www-form-urlencoded` body strictly: bounded size, valid percent-encoding
 * and UTF-8, no control characters, no repeated parameter except those in `repeatable`.
 * Empty values count as omitted (RFC 6749 §3.1).
 */
export function parseForm(
  contentType: string | undefined,
  body: string,
  repeatable: ReadonlySet<string> = new Set(),
): FormParams {
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) throw new PayloadTooLarge(MAX_BODY_BYTES)
  const [mediaType, ...parameters] = (contentType ?? '').split(';').map((s) => s.trim().toLowerCase())
  if (mediaType !== FORM_TYPE) throw new UnsupportedMediaType(FORM_TYPE)
  for (const p of parameters) {
    if (p.startsWith('charset=') && !/^charset="?utf-8"?$/.test(p))
      throw new UnsupportedMediaType(`${FORM_TYPE} in UTF-8`)
  }
  const values = new Map<string, string[]>()
  if (body.length === 0) return new FormParams(values)
  for (const pair of body.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1))
    if (name === '') throw new InvalidRequest('form parameter with an empty name')
    if (value === '') continue
    const list = values.get(name)
    if (!list) values.set(name, [value])
    else if (repeatable.has(name)) list.push(value)
    else throw new InvalidRequest(`parameter '${printable(name)}' is repeated`)
  }
  return new FormParams(values)
}

// Without '%' or '+' decoding is the identity, so only control characters remain to refuse.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const NEEDS_DECODING = /[%+\u0000-\u001f\u007f]/

function decodeComponent(raw: string): string {
  // Fast path for the common case (parameter names, base64url tokens): nothing to decode or reject.
  if (!NEEDS_DECODING.test(raw)) return raw
  let text: string
  try {
    text = decodeURIComponent(raw.includes('+') ? raw.replaceAll('+', ' ') : raw)
  } catch {
    throw new InvalidRequest('malformed percent-encoding in the form body')
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(text))
    throw new InvalidRequest('control characters are not allowed in form parameters')
  return text
}

/** A parameter name safe to echo: short, printable. */
function printable(name: string): string {
  return name.length > 40 ? `${name.slice(0, 40)}...` : name
}

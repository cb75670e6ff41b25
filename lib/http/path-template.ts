/**
 * Endpoint paths are literal, or have one `{name}` segment (`/approvals/{id}`), as API Gateway
 * routes do. A parameter value is one non-empty segment of unreserved URL characters: anything else
 * (a slash, percent-encoding, dots only) matches no route, so a core never sees an odd id.
 */
const PARAM_SEGMENT = /^\{([a-z][A-Za-z0-9]*)\}$/
const PARAM_VALUE = /^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,128}$/

/** The parameter name of a templated path (`id` for `/approvals/{id}`), undefined for a literal one. */
export function pathParamName(template: string): string | undefined {
  const names = template.split('/').flatMap((s) => PARAM_SEGMENT.exec(s)?.[1] ?? [])
  if (names.length > 1) throw new Error(`path ${template} has more than one parameter segment`)
  return names[0]
}

/** Matches `path` against one template: its parameters (empty for a literal match), or undefined. */
export function matchPath(template: string, path: string): Readonly<Record<string, string>> | undefined {
  if (template === path) return pathParamName(template) === undefined ? {} : undefined
  const want = template.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  let params: Record<string, string> | undefined
  for (const [i, segment] of want.entries()) {
    const value = got[i] ?? ''
    const name = PARAM_SEGMENT.exec(segment)?.[1]
    if (name === undefined) {
      if (segment !== value) return undefined
    } else {
      if (!PARAM_VALUE.test(value)) return undefined
      params = { [name]: value }
    }
  }
  return params
}

/** A route table: the literal path's entry first, else the first template that matches. */
export function routeTable<T>(
  routes: readonly { readonly path: string; readonly handler: T }[],
): (path: string) => T | undefined {
  const literal = new Map<string, T>()
  const templated: { path: string; handler: T }[] = []
  for (const r of routes) {
    if (pathParamName(r.path) === undefined) literal.set(r.path, r.handler)
    else templated.push(r)
  }
  return (path) => literal.get(path) ?? templated.find((r) => matchPath(r.path, path) !== undefined)?.handler
}

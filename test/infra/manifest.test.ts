import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ENDPOINTS } from '../../lib/endpoints/manifest.js'
import { pathParamName } from '../../lib/http/path-template.js'

// serverless.yml cannot import the manifest, so it is checked against it: a function, route or
// role that one of them lists and the other does not fails here, before any package or deploy.

interface SlsFunction {
  handler?: string
  role?: string
  package?: { patterns?: string[] }
  events?: { httpApi?: { method?: string; path?: string } }[]
}
const ROOT = join(import.meta.dirname, '..', '..')
const sls = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
  functions: Record<string, SlsFunction>
}
const cap = (name: string) => name.charAt(0).toUpperCase() + name.slice(1)

describe('serverless.yml agrees with the endpoint manifest', () => {
  it('declares exactly the manifest endpoints as functions', () => {
    expect(Object.keys(sls.functions).sort()).toEqual(ENDPOINTS.map((e) => e.name).sort())
  })

  it.each(ENDPOINTS.map((e) => [e.name, e] as const))('%s: routes, handler, role and package', (name, e) => {
    const fn = sls.functions[name]
    expect(fn).toBeDefined()
    const routes = (fn?.events ?? []).map((ev) => ev.httpApi)
    // ANY: a wrong method reaches the core, which answers the contract's JSON 405.
    expect(routes.map((r) => r?.method)).toEqual(e.paths.map(() => '*'))
    expect(routes.map((r) => r?.path).sort()).toEqual([...e.paths].sort())
    expect(fn?.handler).toBe(`dist/${name}/index.handler`)
    expect(fn?.role).toBe(`${cap(name)}Role`)
    expect(fn?.package?.patterns).toEqual(['!./**', `dist/${name}/**`])
  })

  it('no path is served by two endpoints, and each has at most one parameter segment', () => {
    const paths = ENDPOINTS.flatMap((e) => e.paths)
    expect(new Set(paths).size).toBe(paths.length)
    for (const p of paths) expect(() => pathParamName(p)).not.toThrow()
  })

  it('every endpoint names its AWS actions without wildcards', () => {
    for (const e of ENDPOINTS) {
      const aws = e.aws as { dynamodb: readonly string[]; kms?: readonly string[]; sts?: readonly string[] }
      for (const a of [...aws.dynamodb, ...(aws.kms ?? []), ...(aws.sts ?? [])]) expect(a).not.toContain('*')
    }
  })
})

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  ACTION_BUNDLE,
  ACTION_PACKAGE_JSON,
  ACTION_PACKAGE_JSON_TEXT,
  buildActionBundle,
} from '../../scripts/build-action.js'

const ROOT = join(import.meta.dirname, '..', '..')

describe('action/dist is the committed build of action/src', () => {
  it('rebuilding gives exactly the committed bundle (run npm run build:action when this fails)', async () => {
    const fresh = await buildActionBundle()
    // A plain boolean first: a diff of two 180 KiB strings would drown the hint above.
    expect(fresh === readFileSync(ACTION_BUNDLE, 'utf8')).toBe(true)
  }, 60_000)

  it('the bundle runs as an ES module wherever the action is checked out', () => {
    expect(readFileSync(ACTION_PACKAGE_JSON, 'utf8')).toBe(ACTION_PACKAGE_JSON_TEXT)
  })

  it('action.yml runs the bundle on node24 with the contract inputs', () => {
    const action = parse(readFileSync(join(ROOT, 'action', 'action.yml'), 'utf8'))
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' })
    expect(Object.keys(action.inputs).sort()).toEqual(['audience', 'output', 'resource', 'scope', 'url'])
    expect(action.inputs.url.required).toBe(true)
    expect(action.inputs.output.default).toBe('token')
    expect(Object.keys(action.outputs)).toEqual(['token'])
  })

  it('git does not ignore action/dist (the dist/ rule is for the Lambda bundles)', () => {
    const ignore = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')
    expect(ignore).toContain('!action/dist/')
    expect(ignore.indexOf('!action/dist/')).toBeGreaterThan(ignore.indexOf('dist/'))
  })
})

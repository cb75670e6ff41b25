/**
 * Policy test files (`tessera policy test`): YAML, validated strictly like the config, each test
 * a subject's claims, a request and the expected decision.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as z from 'zod'
import { formatPath } from '../config/check.js'
import { MAX_CONFIG_BYTES } from '../config/lambda-source.js'
import { locate } from '../config/locate.js'
import { parseStrictYaml } from '../config/parse-yaml.js'
import { NameSchema } from '../config/providers/common.js'
import { ConfigError, PolicyTestFileError } from '../errors.js'
import { readTextFile } from '../text/read-text-file.js'

const OneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

const ClaimsSchema = z
  .custom<unknown>((raw) => !(typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__')), {
    message: '__proto__ cannot be a claim name',
  })
  .pipe(z.record(z.string().min(1), z.unknown()))

export const PolicyTestSchema = z.strictObject({
  name: z.string().min(1).max(200),
  provider: NameSchema,
  claims: ClaimsSchema,
  request: z
    .strictObject({
      audience: OneOrMany.optional(),
      resource: OneOrMany.optional(),
      /** Space-separated, as on the wire; absent means all of the grant's scopes. */
      scope: z.string().min(1).optional(),
    })
    .prefault({}),
  expect: z.union([
    z.strictObject({ allow: z.literal(true), policy: NameSchema.optional() }),
    z.strictObject({
      allow: z.literal(false),
      error: z.enum(['invalid_target', 'invalid_scope']).optional(),
    }),
  ]),
})
export type PolicyTest = z.output<typeof PolicyTestSchema>

const TestFileSchema = z.strictObject({ tests: z.array(PolicyTestSchema).min(1) })

/** One test with where it was written. */
export interface LocatedTest {
  readonly file: string
  /** 1-based line of the test in its file. */
  readonly line: number
  readonly test: PolicyTest
}

/** Bounds a test search: more files than this is a wrong path. */
const MAX_TEST_FILES = 1000
export const TEST_FILE_SUFFIX = '.test.yaml'

/** `tests[2] (main may deploy)`: a path that names the test, so an error is found at once. */
function describePath(path: readonly PropertyKey[], raw: unknown): string {
  const text = formatPath(path)
  const index = path[1]
  if (path[0] !== 'tests' || typeof index !== 'number') return text
  const tests = (raw as { tests?: unknown[] } | null)?.tests
  const name = Array.isArray(tests) ? (tests[index] as { name?: unknown } | undefined)?.name : undefined
  return typeof name === 'string' ? `${text} (test '${name.slice(0, 80)}')` : text
}

/** Parses and validates one test file; throws PolicyTestFileError naming the file, line and test. */
export function parseTestFile(text: string, file: string): LocatedTest[] {
  let source: ReturnType<typeof parseStrictYaml>
  try {
    source = parseStrictYaml(text, file)
  } catch (error) {
    if (error instanceof ConfigError) throw new PolicyTestFileError(file, error.issues)
    throw error
  }
  const at = (path: readonly PropertyKey[]) => {
    const pos = locate(
      source.doc,
      source.lineCounter,
      path.filter((p): p is string | number => typeof p !== 'symbol'),
    )
    return pos ? `${file}:${pos.line}:${pos.col}: ` : `${file}: `
  }
  const result = TestFileSchema.safeParse(source.js)
  if (!result.success)
    throw new PolicyTestFileError(
      file,
      result.error.issues.map((i) => `${at(i.path)}${describePath(i.path, source.js)}: ${i.message}`),
    )
  const seen = new Set<string>()
  const problems: string[] = []
  const tests = result.data.tests.map((test, i) => {
    if (seen.has(test.name))
      problems.push(`${at(['tests', i, 'name'])}tests[${i}]: test name '${test.name}' repeats`)
    seen.add(test.name)
    return { file, line: locate(source.doc, source.lineCounter, ['tests', i])?.line ?? 1, test }
  })
  if (problems.length > 0) throw new PolicyTestFileError(file, problems)
  return tests
}

/** Reads one test file (at most 1 MiB). */
export function readTestFile(path: string): LocatedTest[] {
  let text: string
  try {
    text = readTextFile(path, MAX_CONFIG_BYTES)
  } catch (err) {
    throw new PolicyTestFileError(path, [`cannot read: ${(err as Error).message}`])
  }
  return parseTestFile(text, path)
}

/** Collects `*.test.yaml` below `dir`, skipping dot folders and node_modules; stops past the bound. */
function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (out.length > MAX_TEST_FILES) return
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && entry.name !== 'node_modules') walk(join(dir, entry.name), out)
    } else if (entry.name.endsWith(TEST_FILE_SUFFIX)) out.push(join(dir, entry.name))
  }
}

/** The test files at `path`: the file itself, or every `*.test.yaml` below the folder, sorted. */
export function findTestFiles(path: string): string[] {
  let isDir: boolean
  try {
    isDir = statSync(path).isDirectory()
  } catch (err) {
    throw new PolicyTestFileError(path, [`cannot read: ${(err as Error).message}`])
  }
  if (!isDir) return [path]
  const found: string[] = []
  walk(path, found)
  found.sort()
  if (found.length === 0) throw new PolicyTestFileError(path, [`no *${TEST_FILE_SUFFIX} file under ${path}`])
  if (found.length > MAX_TEST_FILES)
    throw new PolicyTestFileError(path, [`more than ${MAX_TEST_FILES} test files`])
  return found
}

import { readFile } from 'node:fs/promises'
import { type Document, LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { awsGrantIssues } from '../credentials/aws-session.js'
import { ConfigError } from '../errors.js'
import { locate } from './locate.js'
import { type Config, ConfigSchema } from './schema.js'

/** A validated config and where it came from (for error and lint locations). */
export interface LoadedConfig {
  readonly config: Config
  readonly file: string
  readonly doc: Document
  readonly lineCounter: LineCounter
}

/** Formats a config path as `policies[2].match.ref.glob`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out ? `.${String(part)}` : String(part)
  }
  return out || '(root)'
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
  const result = ConfigSchema.safeParse(doc.toJS({ maxAliasCount: 50 }))
  if (!result.success)
    throw new ConfigError(
      file,
      result.error.issues.map((i) => describeIssue(i, file, doc, lineCounter)),
    )
  const config = result.data
  const problems = crossCheck(config)
  if (problems.length > 0) {
    throw new ConfigError(
      file,
      problems.map(
        ([path, message]) => `${where(file, doc, lineCounter, path)}${formatPath(path)}: ${message}`,
      ),
    )
  }
  return { config, file, doc, lineCounter }
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

function describeIssue(issue: z.core.$ZodIssue, file: string, doc: Document, lc: LineCounter): string {
  return `${where(file, doc, lc, issue.path)}${formatPath(issue.path)}: ${issue.message}`
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

/** Checks across sections that zod cannot see: names unique, issuers unambiguous. */
function crossCheck(config: Config): [PropertyKey[], string][] {
  const problems: [PropertyKey[], string][] = []
  const names = new Map<string, number>()
  const issuers = new Map<string, string>()
  config.providers.forEach((p, i) => {
    if (names.has(p.name)) problems.push([['providers', i, 'name'], `duplicate provider name "${p.name}"`])
    names.set(p.name, i)
    if (p.kind !== 'oidc') return
    for (const iss of [p.issuer, ...p.issuerAliases]) {
      const other = issuers.get(iss)
      if (other)
        problems.push([['providers', i, 'issuer'], `issuer ${iss} is already used by provider "${other}"`])
      issuers.set(iss, p.name)
    }
    if (p.issuer === config.issuer) {
      problems.push([['providers', i, 'issuer'], "a provider cannot trust Tessera's own issuer"])
    }
  })
  config.policies.forEach((p, i) => {
    if (!p.grant.aws) return
    for (const issue of awsGrantIssues(p.grant.aws))
      problems.push([['policies', i, 'grant', 'aws', ...issue.path], issue.message])
  })
  return problems
}

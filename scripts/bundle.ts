/**
 * Bundles one Lambda function per endpoint of lib/endpoints/manifest.ts with esbuild: the generic
 * entry functions/handler.ts, fixed to that endpoint -> dist/<fn>/index.mjs (ESM, minified,
 * tree-shaken, @aws-sdk/* included — never the runtime's copy), plus the deployment
 * config as dist/<fn>/tessera.json (read at cold start, see functions/runtime.ts) and the reviewed
 * dist/<fn>/tessera.yaml next to it (see lib/config/lambda-source.ts). osls then zips each
 * dist/<fn>/ as it is, so packaging needs no plugin and no AWS credentials. The endpoints' IAM needs
 * go to dist/endpoints.json, which infra/iam-roles.cjs turns into one role per function.
 *
 *   tsx scripts/bundle.ts [--config tessera.yaml] [--only token,jwks] [--allow-empty-config]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import { build, type Metafile, type Plugin } from 'esbuild'
import type { Config } from '../lib/config/schema.js'
import { ENDPOINTS, type EndpointName } from '../lib/endpoints/manifest.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** One Lambda function per manifest endpoint; serverless.yml lists the same names (a test checks it). */
export const FUNCTIONS: readonly EndpointName[] = ENDPOINTS.map((e) => e.name)

/** What infra/iam-roles.cjs reads: each function's name, paths and AWS actions. */
export const ENDPOINTS_FILE = 'endpoints.json'

/** Lambda always has env credentials: the full provider chain is swapped for a small one. */
const lambdaCredentials: Plugin = {
  name: 'lambda-credentials',
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: join(ROOT, 'scripts', 'lambda-credentials.ts'),
    }))
  },
}

/** re2js only when the config needs it: the policy regex engine becomes a lazily loaded chunk. */
const lambdaRegexEngine: Plugin = {
  name: 'lambda-regex-engine',
  setup(b) {
    b.onResolve({ filter: /^\.\/regex-engine\.js$/ }, (args) =>
      args.importer.startsWith(join(ROOT, 'lib', 'policy'))
        ? { path: join(ROOT, 'scripts', 'lambda-regex-engine.ts') }
        : undefined,
    )
    b.onResolve({ filter: /\/policy\/regex-engine\.js$/ }, () => ({
      path: join(ROOT, 'scripts', 'lambda-regex-engine.ts'),
    }))
  },
}

export interface BundleResult {
  readonly name: string
  /** The entry module Lambda loads (dist/<fn>/index.mjs). */
  readonly outfile: string
  /** Bytes loaded at init: the entry plus every chunk it imports statically. */
  readonly initBytes: number
  /** Bytes of every output file, lazily loaded chunks included. */
  readonly totalBytes: number
  readonly metafile: Metafile
}

/** Bytes of the given output files plus every chunk they import statically (what loading them costs). */
export function closureBytes(metafile: Metafile, files: readonly string[]): number {
  const outputs = metafile.outputs
  const seen = new Set<string>()
  const stack = files.map((f) => relative(ROOT, f))
  for (let guard = 0; stack.length > 0 && guard < 10_000; guard++) {
    const file = stack.pop()!
    if (seen.has(file) || !outputs[file]) continue
    seen.add(file)
    for (const imp of outputs[file].imports) if (imp.kind === 'import-statement') stack.push(imp.path)
  }
  return [...seen].reduce((n, f) => n + (outputs[f]?.bytes ?? 0), 0)
}

/** Sizes of the entry's static import closure and of all outputs, from esbuild's metafile. */
export function measureOutputs(metafile: Metafile, entry: string): { initBytes: number; totalBytes: number } {
  const all = Object.keys(metafile.outputs).filter((f) => f.endsWith('.mjs'))
  return {
    initBytes: closureBytes(metafile, [entry]),
    totalBytes: closureBytes(
      metafile,
      all.map((f) => join(ROOT, f)),
    ),
  }
}

/** Bundles the function of one manifest endpoint. */
export async function bundleFunction(name: EndpointName, outDir = join(ROOT, 'dist')): Promise<BundleResult> {
  const entry = join(ROOT, 'functions', 'handler.ts')
  const dir = join(outDir, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const outfile = join(dir, 'index.mjs')
  const result = await build({
    entryPoints: { index: entry },
    outdir: dir,
    // Features a config may not use (KMS, STS, DynamoDB, …) are dynamic imports: separate chunks
    // that are only loaded when needed, keeping init small.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    treeShaking: true,
    metafile: true,
    legalComments: 'none',
    // ESM first so tree-shaking works on packages that ship both (@aws-sdk, @smithy, zod, jose).
    mainFields: ['module', 'main'],
    logLevel: 'warning',
    define: { 'process.env.TESSERA_ENDPOINT': JSON.stringify(name) },
    plugins: [lambdaCredentials, lambdaRegexEngine],
    // CommonJS dependencies call require() for node built-ins; ESM output has no require of its own.
    banner: {
      js: "import{createRequire as __tesseraCreateRequire}from'node:module';const require=__tesseraCreateRequire(import.meta.url);",
    },
  })
  // Outside dist/<fn>/ so it is not zipped; read it to see what pulls weight (esbuild analyzer).
  mkdirSync(join(outDir, 'meta'), { recursive: true })
  writeFileSync(join(outDir, 'meta', `${name}.json`), JSON.stringify(result.metafile))
  return { name, outfile, ...measureOutputs(result.metafile, outfile), metafile: result.metafile }
}

/** Writes dist/endpoints.json: the manifest's names, paths and AWS actions (no code). */
export function writeEndpointsFile(outDir = join(ROOT, 'dist')): string {
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, ENDPOINTS_FILE)
  const data = ENDPOINTS.map(({ name, paths, aws }) => ({ name, paths, aws }))
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`)
  return file
}

/** Validates the config at build time (a typo fails the deploy, not every cold start) and checks it suits Lambda. */
async function checkDeployConfig(path: string): Promise<Config> {
  const { loadConfigFile } = await import('../lib/config/load.js')
  const { config } = await loadConfigFile(path)
  const refs = config.signing.key ? [config.signing.key] : (config.signing.keys ?? [])
  if (refs.some((r) => 'local' in r)) {
    throw new Error(
      `${path}: signing keys on Lambda must be KMS keys (signing.key: { kms: alias/… }), not local files`,
    )
  }
  if ('memory' in config.store) {
    console.warn(
      `bundle: ${path}: store is in-memory; replay protection and revocation are per Lambda instance only`,
    )
  }
  return config
}

/** The config file name the functions read (serverless.yml: `TESSERA_CONFIG`). */
export const DEPLOY_CONFIG_FILE = 'tessera.json'

/**
 * Validates the deployment YAML and converts it to `tessera.json`: the same document as plain JSON,
 * so a cold start needs no YAML parser (lib/config/load-json.ts). The JSON is loaded back here and
 * must give exactly the config the YAML gives.
 */
async function deployConfigJson(configPath: string): Promise<string> {
  const config = await checkDeployConfig(configPath)
  const [{ parse }, { loadConfigJson }, { expandIncludes }] = await Promise.all([
    import('yaml'),
    import('../lib/config/load-json.js'),
    import('../lib/config/expand-includes.js'),
  ])
  // The YAML loader's options (it has already refused duplicate keys and alias bombs). Policy
  // folders and a guardrails file are read in: a function reads one self-contained JSON config.
  const yaml: unknown = parse(readFileSync(configPath, 'utf8'), { uniqueKeys: true, maxAliasCount: 50 })
  const { raw } = expandIncludes(yaml, configPath, dirname(configPath))
  const json = `${JSON.stringify(raw, null, 2)}\n`
  if (!isDeepStrictEqual(loadConfigJson(json, DEPLOY_CONFIG_FILE).config, config)) {
    throw new Error(`${configPath}: the config does not convert to JSON without change; simplify the YAML`)
  }
  return json
}

/** Installs the config in a function directory: tessera.json (read at cold start) + the reviewed tessera.yaml. */
function installDeployConfig(configPath: string, json: string, dir: string): void {
  writeFileSync(join(dir, DEPLOY_CONFIG_FILE), json)
  copyFileSync(configPath, join(dir, 'tessera.yaml'))
}

/** Validates the deployment config and installs it in each directory; returns the file name for TESSERA_CONFIG. */
export async function writeDeployConfig(configPath: string, dirs: readonly string[]): Promise<string> {
  const json = await deployConfigJson(configPath)
  for (const dir of dirs) installDeployConfig(configPath, json, dir)
  return DEPLOY_CONFIG_FILE
}

/**
 * Functions bundled without a config refuse every request, so a missing config fails the build
 * unless it is deliberate (`--allow-empty-config`, or `npm run package --allow-empty-config`, which
 * npm passes as npm_config_allow_empty_config): reviewing the template needs no config. Returns
 * the warning to print when allowed.
 */
export function checkDeployConfigPresent(
  configPath: string,
  opts: { exists: boolean; allowEmpty: boolean },
): string | undefined {
  if (opts.exists) return undefined
  const what = `bundle: no config at ${configPath}`
  if (!opts.allowEmpty)
    throw new Error(
      `${what}: pass --config <file> (or set TESSERA_DEPLOY_CONFIG; see docs/deploy.md), or ` +
        '--allow-empty-config to bundle functions that refuse to start until a config is bundled',
    )
  return `${what}; functions will refuse to start until one is bundled (--allow-empty-config)`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      only: { type: 'string' },
      'allow-empty-config': { type: 'boolean', default: false },
    },
  })
  const requested = values.only ? values.only.split(',').map((s) => s.trim()) : [...FUNCTIONS]
  const names = requested.filter((n): n is EndpointName => (FUNCTIONS as readonly string[]).includes(n))
  if (names.length < requested.length) {
    const unknown = requested.filter((n) => !(FUNCTIONS as readonly string[]).includes(n))
    throw new Error(`unknown function(s): ${unknown.join(', ')}; known: ${FUNCTIONS.join(', ')}`)
  }

  const config = values.config ?? process.env.TESSERA_DEPLOY_CONFIG ?? 'tessera.yaml'
  const configPath = resolve(ROOT, config)
  const haveConfig = existsSync(configPath)
  const warning = checkDeployConfigPresent(configPath, {
    exists: haveConfig,
    allowEmpty: values['allow-empty-config'] || process.env.npm_config_allow_empty_config === 'true',
  })
  if (warning) console.warn(warning)

  const json = haveConfig ? await deployConfigJson(configPath) : undefined
  writeEndpointsFile()
  for (const name of names) {
    const result = await bundleFunction(name)
    if (json !== undefined) installDeployConfig(configPath, json, dirname(result.outfile))
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`
    console.log(
      `bundle: dist/${name}/index.mjs init ${kib(result.initBytes)}, total ${kib(result.totalBytes)}`,
    )
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}

/**
 * Cold-start bench (`npm run bench:cold`): bundles every function, then reports bundle sizes and
 * start-up time — a fresh `node` process vs `node -e 0`, median of RUNS each, interleaved in the
 * same run. Targets (README "Performance"): token ≤ 500 KB loaded at init, ≤ 150 ms over baseline.
 *
 * Two kinds of rows:
 * - `<fn> (import)`: importing the bundle only (what every function pays before its first request).
 * - `token (production)`: the token function as deployed — the bundled config a production
 *   deployment uses (KMS signing key, DynamoDB store, one `github-actions` OIDC provider, a policy
 *   with a glob), written by scripts/bundle.ts exactly as for a deploy — importing the bundle and
 *   answering one real exchange (200): config load, broker build (KMS DescribeKey/GetPublicKey),
 *   JWKS fetch, verify, policy, revocation Query, KMS Sign, audit. The KMS fake, dynalite and the
 *   issuer run in this process on loopback. Its bytes are the bundle files that process actually
 *   loaded (recorded by a module-load hook in one extra, untimed run): the size target is judged
 *   on them; the time target (module init) on `token (import)`.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Metafile } from 'esbuild'
import { exportJWK, SignJWT } from 'jose'
import { type BundleResult, bundleFunction, FUNCTIONS, ROOT, writeDeployConfig } from '../scripts/bundle.js'
import { startKmsFake } from '../test/fakes/kms.js'
import { startDynalite } from '../test/helpers/dynalite.js'

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15)
const TARGET_BYTES = 500 * 1024
const TARGET_INIT_MS = 150
const AUDIENCE = 'https://sts.example.com'

/** Runs `node args` to completion; wall time in ms (async, so the fakes in this process keep answering). */
function timeNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...env },
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (code === 0) resolve(ms)
      else reject(new Error(`node ${args.join(' ').slice(0, 200)} exited ${code}: ${stderr.slice(0, 4000)}`))
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Heaviest packages among the given output files, to see what pulls weight. */
function topPackages(metafile: Metafile, files: ReadonlySet<string>, count: number): [string, number][] {
  const by = new Map<string, number>()
  for (const [out, { inputs }] of Object.entries(metafile.outputs)) {
    if (!files.has(out)) continue
    for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)
      const key = m ? m[1]! : file.split('/').slice(0, 2).join('/')
      by.set(key, (by.get(key) ?? 0) + bytesInOutput)
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, count)
}

/** The production-like deployment config (docs/deploy.md), pointed at loopback fakes. */
function productionConfig(issuer: string, table: string): string {
  return `issuer: ${AUDIENCE}
signing:
  algorithm: ES256
  keys:
    - { kms: alias/tessera-bench-blue, active: true }
    - { kms: alias/tessera-bench-green }
store: { dynamodb: { table: ${table} } }
providers:
  - name: github-actions
    kind: oidc
    preset: github-actions
    issuer: ${issuer}
    jwksUri: ${issuer}/jwks
    audiences: [${AUDIENCE}]
policies:
  - name: deploy-app
    provider: github-actions
    match:
      repository: acme/app
      repository_id: "123456789"
      ref: { glob: "refs/heads/release/*" }
      job_workflow_ref: acme/app/.github/workflows/deploy.yml@refs/heads/main
    grant:
      token: { audience: https://api.example.com, scopes: [deploy:write], ttl: 10m }
`
}

/** A loopback OIDC issuer serving one RS256 JWKS; returns its URL and a valid GitHub-like token. */
async function startIssuer(): Promise<{ issuer: string; token: string; close(): Promise<void> }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' }
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' })
    res.end(req.url === '/jwks' ? JSON.stringify({ keys: [jwk] }) : '{}')
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const token = await new SignJWT({
    repository: 'acme/app',
    repository_id: '123456789',
    repository_owner: 'acme',
    ref: 'refs/heads/release/v1',
    job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(AUDIENCE)
    .setSubject('repo:acme/app:ref:refs/heads/release/v1')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey)
  return { issuer, token, close: () => new Promise<void>((ok) => server.close(() => ok())) }
}

/** The child script: import the token bundle and answer one exchange like the Lambda runtime would. */
function exchangeScript(entry: string, token: string): string {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: 'https://api.example.com',
  }).toString()
  const event = {
    rawPath: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    isBase64Encoded: false,
    requestContext: { requestId: 'bench', http: { method: 'POST', path: '/token', sourceIp: '127.0.0.1' } },
  }
  return `const { handler } = await import(${JSON.stringify(pathToFileURL(entry).href)});
const res = await handler(${JSON.stringify(event)}, { awsRequestId: 'bench' });
if (res.statusCode !== 200) { process.stderr.write(JSON.stringify(res)); process.exit(2) }
process.exit(0)`
}

/** Module-load hook (run once, untimed): appends every file: URL node loads to LOADED_LOG. */
const LOAD_HOOK = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.LOADED_LOG, url + '\\\\n');
  return next(url, context);
}\`));`

async function main(): Promise<void> {
  const results: BundleResult[] = []
  for (const name of FUNCTIONS) {
    results.push(await bundleFunction(name))
  }
  const importArgs = (file: string) => [
    '--input-type=module',
    '-e',
    `await import(${JSON.stringify(pathToFileURL(file).href)})`,
  ]
  type Case = {
    label: string
    args: string[]
    env?: NodeJS.ProcessEnv
    initBytes?: number
    totalBytes?: number
  }
  const cases: Case[] = [{ label: 'baseline (node -e 0)', args: ['-e', '0'] }]
  for (const r of results) {
    cases.push({
      label: `${r.name} (import)`,
      args: importArgs(r.outfile),
      initBytes: r.initBytes,
      totalBytes: r.totalBytes,
    })
  }

  const token = results.find((r) => r.name === 'token')
  const kms = await startKmsFake()
  kms.alias('alias/tessera-bench-blue', kms.createKey('ECC_NIST_P256'))
  kms.alias('alias/tessera-bench-green', kms.createKey('ECC_NIST_P256'))
  const dynamo = await startDynalite()
  const issuer = await startIssuer()
  const work = mkdtempSync(join(tmpdir(), 'tessera-cold-'))
  let production: Case | undefined
  let loadedOutputs = new Set<string>()
  try {
    if (token) {
      const yaml = join(work, 'tessera.yaml')
      writeFileSync(yaml, productionConfig(issuer.issuer, dynamo.table))
      const dir = dirname(token.outfile)
      const configName = await writeDeployConfig(yaml, [dir])
      const env: NodeJS.ProcessEnv = {
        LAMBDA_TASK_ROOT: dirname(dir),
        _HANDLER: 'token/index.handler',
        TESSERA_CONFIG: configName,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDTESTTESSERA',
        AWS_SECRET_ACCESS_KEY: 'test-secret',
        AWS_ENDPOINT_URL_KMS: kms.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        POWERTOOLS_METRICS_NAMESPACE: 'tessera-bench',
      }
      const args = ['--input-type=module', '-e', exchangeScript(token.outfile, issuer.token)]
      // One untimed run with the load hook: which bundle files does a production exchange load?
      const log = join(work, 'loaded.txt')
      writeFileSync(log, '')
      // BENCH_COLD_CPU_PROF=<dir>: also write a CPU profile of that run (open in Chrome DevTools).
      const prof = process.env.BENCH_COLD_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_COLD_CPU_PROF]
        : []
      await timeNode(
        [...prof, '--import', `data:text/javascript,${encodeURIComponent(LOAD_HOOK)}`, ...args],
        {
          ...env,
          LOADED_LOG: log,
        },
      )
      const distDir = join(ROOT, 'dist')
      loadedOutputs = new Set(
        readFileSync(log, 'utf8')
          .split('\n')
          .filter((u) => u.startsWith('file:'))
          .map((u) => fileURLToPath(u))
          .filter((f) => f.startsWith(`${distDir}/`) && f.endsWith('.mjs'))
          .map((f) => relative(ROOT, f)),
      )
      const initBytes = [...loadedOutputs].reduce((n, f) => n + statSync(join(ROOT, f)).size, 0)
      production = { label: 'token (production)', args, env, initBytes, totalBytes: token.totalBytes }
      cases.push(production)
    }

    const samples = new Map<string, number[]>(cases.map((c) => [c.label, []]))
    for (const c of cases) await timeNode(c.args, c.env) // warm the file cache once
    for (let i = 0; i < RUNS; i++)
      for (const c of cases) samples.get(c.label)!.push(await timeNode(c.args, c.env))

    const baseline = median(samples.get(cases[0]!.label)!)
    const rows = cases.map((c) => {
      const med = median(samples.get(c.label)!)
      return {
        function: c.label,
        initKiB: c.initBytes === undefined ? '' : +(c.initBytes / 1024).toFixed(1),
        totalKiB: c.totalBytes === undefined ? '' : +(c.totalBytes / 1024).toFixed(1),
        initBytes: c.initBytes,
        medianMs: +med.toFixed(1),
        overBaselineMs: +(med - baseline).toFixed(1),
      }
    })
    console.log(`cold start: ${RUNS} runs each, node ${process.version}, ${process.arch}`)
    console.table(rows.map(({ initBytes: _b, ...r }) => r))

    if (token && production) {
      console.log('token (production), bundle files loaded:')
      for (const f of [...loadedOutputs].sort())
        console.log(`  ${(statSync(join(ROOT, f)).size / 1024).toFixed(1).padStart(7)} KiB  ${f}`)
      console.log('token (production), heaviest packages loaded (KiB):')
      for (const [pkg, bytes] of topPackages(token.metafile, loadedOutputs, 12))
        console.log(`  ${(bytes / 1024).toFixed(1).padStart(7)}  ${pkg}`)
      // Bytes: what the production exchange loaded. Module init: importing the bundle (the Lambda
      // init phase); the production row's time also holds six loopback round trips (information).
      const label = production.label
      const prod = rows.find((r) => r.function === label)!
      const init = rows.find((r) => r.function === 'token (import)')!
      const bytes = prod.initBytes ?? 0
      const sizeOk = bytes <= TARGET_BYTES
      const timeOk = init.overBaselineMs <= TARGET_INIT_MS
      console.log(
        `target token init bytes ≤ ${TARGET_BYTES / 1024} KiB: ${sizeOk ? 'PASS' : 'FAIL'} (${(bytes / 1024).toFixed(1)} KiB, ${prod.function})`,
      )
      console.log(
        `target token module init ≤ ${TARGET_INIT_MS} ms over baseline: ${timeOk ? 'PASS' : 'FAIL'} (${init.overBaselineMs} ms, ${init.function})`,
      )
      console.log(
        `token first production exchange: ${prod.overBaselineMs} ms over baseline (import, config, broker, one exchange)`,
      )
      if (!sizeOk || !timeOk) process.exitCode = 1
    }
    const dir = join(ROOT, 'bench', 'results')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, 'cold.json')
    writeFileSync(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          runs: RUNS,
          loaded: [...loadedOutputs],
          rows,
        },
        null,
        2,
      ),
    )
    console.log(`written ${relative(ROOT, file)}`)
  } finally {
    await issuer.close()
    await dynamo.close()
    await kms.close()
    rmSync(work, { recursive: true, force: true })
  }
}

await main()

import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'

const BIN = resolve('bin/tessera.js')

/** Runs the CLI to completion; stdin optional. */
export function runCli(args: string[], opts: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => done({ code, stdout, stderr }))
    child.stdin.end(opts.input ?? '')
  })
}

/** Starts `tessera serve`, resolving with its URL and its stderr so far once the banner is printed. */
export function startServe(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd,
    env: { ...process.env, ...env },
  })
  return new Promise<{ child: ChildProcess; url: string; stderr: string }>((ok, fail) => {
    let err = ''
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${err}`)), 20_000)
    child.stderr?.on('data', (d) => {
      err += d
      const m = /listening on (http:\/\/[^\s]+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        ok({ child, url: m[1] as string, stderr: err })
      }
    })
    child.on('exit', () => {
      clearTimeout(timer)
      fail(new Error(`serve exited: ${err}`))
    })
  })
}

/** A free loopback port (for configs whose issuer URL must name the port before the server starts). */
export function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => ok(port))
    })
  })
}

/** Writes `configText(url)` to `<cwd>/<file>` for a free port and starts `tessera serve` with it. */
export async function serveConfig(
  cwd: string,
  configText: (url: string) => string,
  opts: { env?: NodeJS.ProcessEnv; args?: string[]; file?: string } = {},
) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const file = opts.file ?? 'tessera.yaml'
  writeFileSync(join(cwd, file), configText(url))
  const { child, stderr } = await startServe(
    ['--config', file, '--port', String(port), ...(opts.args ?? [])],
    cwd,
    opts.env,
  )
  return { url, child, stderr }
}

/** POSTs an RFC 8693 exchange of a JWT subject token to `<base>/token`. */
export async function postJwtExchange(
  base: string,
  subjectToken: string,
  audience = 'https://api.example.com',
) {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      audience,
    }),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string> }
}

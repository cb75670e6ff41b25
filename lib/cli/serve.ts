import { type AddressInfo, createServer } from 'node:net'
import { dirname, resolve } from 'node:path'
import { noopTelemetry } from '../audit/emf-metrics.js'
import { createJsonLineAuditSink } from '../audit/logger-sink.js'
import { type Broker, createBroker } from '../broker.js'
import { builtinConfigText } from '../config/builtin.js'
import { type LoadedConfig, loadConfigFile, loadConfigText } from '../config/load.js'
import { UsageError } from '../errors.js'
import { devIssuerKeyFile, devIssuerRoutes, devIssuerWarning, trustDevIssuer } from '../server/dev-issuer.js'
import { type LocalRoute, type RunningServer, startLocalServer } from '../server/http-server.js'
import { type CliIo, defineCommand } from './command.js'
import { CONFIG_FLAG } from './common-flags.js'

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

export type RouteFactory = (getBroker: () => Promise<Broker>) => LocalRoute[]

/** Optional start-up check (policy lint); returns printable problems, or an empty list. */
export type StartupCheck = (loaded: LoadedConfig) => { errors: string[]; warnings: string[] }

/** What `serve` needs from outside lib/ (the Lambda handlers as local routes) and the signal to stop. */
export interface ServeDeps {
  /** Loaded on start only: the handlers are most of the CLI's start-up time. */
  readonly loadRoutes: () => Promise<RouteFactory>
  readonly check?: StartupCheck
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  readonly stopped?: () => Promise<void>
}

export interface ServeOptions {
  readonly config?: string | undefined
  readonly port: string
  readonly host: string
  readonly devIssuer: boolean
}

/** Starts the local broker; prints the banner (and the dev-issuer warning) on stderr. */
export async function startServe(
  opts: ServeOptions,
  deps: ServeDeps,
  io: Pick<CliIo, 'stderr' | 'env'>,
): Promise<{ server: RunningServer; broker: Broker }> {
  const host = opts.host
  let port = Number(opts.port)
  if (opts.port.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port ${opts.port.slice(0, 20)} is not a port number`)
  // The issuer URL embeds the port, so an ephemeral port is chosen before the config is built.
  if (port === 0) port = await freePort(host)
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const builtin = opts.config === undefined
  const loaded = builtin
    ? loadConfigText(builtinConfigText(baseUrl), 'built-in example')
    : await loadConfigFile(opts.config as string)
  const findings = deps.check?.(loaded) ?? { errors: [], warnings: [] }
  for (const w of findings.warnings) io.stderr.write(`warning: ${w}\n`)
  if (findings.errors.length > 0) {
    throw new Error(
      `${loaded.file}: refusing to start, policy lint found errors:\n${findings.errors.join('\n')}`,
    )
  }
  const dev = opts.devIssuer ? trustDevIssuer(loaded.config, baseUrl) : undefined
  // Local: audit lines go straight to stdout; CloudWatch EMF metrics only make sense on Lambda.
  const broker = await createBroker(dev ? { ...loaded, config: dev.config } : loaded, {
    audit: createJsonLineAuditSink(),
    metrics: noopTelemetry,
    // Relative paths in a config file (signing.key.local) mean the file's folder, not the current one.
    ...(builtin ? {} : { baseDir: dirname(resolve(opts.config as string)) }),
  })
  const routes = (await deps.loadRoutes())(() => Promise.resolve(broker))
  const presets = [...new Set(dev?.standIns.map((s) => s.preset) ?? [])]
  const keyFile = devIssuerKeyFile(io.env)
  const extra = builtin || dev ? await devIssuerRoutes(baseUrl, keyFile, presets) : undefined
  const server = await startLocalServer({ host, port, routes, ...(extra ? { extra } : {}) })
  if (dev) io.stderr.write(devIssuerWarning(server.url, dev.standIns, keyFile))
  const n = loaded.config.policies.length
  io.stderr.write(
    `tessera listening on ${server.url} — config: ${loaded.file}; issuer: ${broker.issuer}; ` +
      `${loaded.config.providers.length} provider(s), ${n} polic${n === 1 ? 'y' : 'ies'}` +
      `${extra ? `; dev issuer at ${server.url}/dev` : ''}\n`,
  )
  return { server, broker }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}

/** `tessera serve`: the local broker, running the Lambda handlers over node:http until stopped. */
export function serveCommand(deps: ServeDeps) {
  return defineCommand({
    name: 'serve',
    summary: 'run the broker locally (no config: the built-in example with a dev issuer)',
    synopsis: '[--config F] [--port 8787] [--host 127.0.0.1] [--dev-issuer]',
    flags: {
      config: CONFIG_FLAG,
      port: { type: 'string', value: 'N', help: 'port, 0 for any free one (default PORT, else 8787)' },
      host: { type: 'string', default: '127.0.0.1', value: 'H', help: 'address to listen on' },
      'dev-issuer': {
        type: 'boolean',
        default: false,
        help: 'also trust the local dev issuer, standing in for every preset provider (local testing only)',
      },
    },
    examples: [
      'tessera serve',
      'tessera serve --config tessera.yaml --port 8787',
      'tessera serve --config examples/github-actions.yaml --dev-issuer',
    ],
    notes: 'Audit events are printed on stdout, one JSON line each; the banner and warnings on stderr.',
    async run({ values }, io) {
      const { server, broker } = await startServe(
        {
          config: values.config,
          port: values.port ?? io.env.PORT ?? '8787',
          host: values.host,
          devIssuer: values['dev-issuer'],
        },
        deps,
        io,
      )
      await (deps.stopped ?? untilSignal)()
      await server.close()
      // Usage records of the last minute are written before the process goes (a shared store keeps them).
      broker.usage?.stop()
      await broker.usage?.flushAll()
      // A store client's keep-alive sockets must not keep a stopped broker alive.
      setTimeout(() => process.exit(0), 1000).unref()
      return 0
    },
  })
}

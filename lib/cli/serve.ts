import { type AddressInfo, createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { noopTelemetry } from '../audit/emf-metrics.js'
import { createJsonLineAuditSink } from '../audit/logger-sink.js'
import { type Broker, createBroker } from '../broker.js'
import { builtinConfigText } from '../config/builtin.js'
import { type LoadedConfig, loadConfigFile, loadConfigText } from '../config/load.js'
import { devIssuerRoutes } from '../server/dev-issuer.js'
import { type LocalRoute, type RunningServer, startLocalServer } from '../server/http-server.js'

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

/** `tessera serve [--config F] [--port 8787] [--host 127.0.0.1] [--dev-issuer]`. */
export async function runServe(
  argv: string[],
  deps: { createRoutes: RouteFactory; check?: StartupCheck },
): Promise<{ server: RunningServer; broker: Broker }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', default: process.env.PORT ?? '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      'dev-issuer': { type: 'boolean', default: false },
    },
    strict: true,
  })
  const host = values.host
  let port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port ${values.port} is not a port number`)
  }
  // The issuer URL embeds the port, so an ephemeral port is chosen before the config is built.
  if (port === 0) port = await freePort(host)
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const builtin = values.config === undefined
  const loaded = builtin
    ? loadConfigText(builtinConfigText(baseUrl), 'built-in example')
    : await loadConfigFile(values.config as string)
  const findings = deps.check?.(loaded) ?? { errors: [], warnings: [] }
  for (const w of findings.warnings) process.stderr.write(`warning: ${w}\n`)
  if (findings.errors.length > 0) {
    throw new Error(
      `${loaded.file}: refusing to start, policy lint found errors:\n${findings.errors.join('\n')}`,
    )
  }
  // Local: audit lines go straight to stdout; CloudWatch EMF metrics only make sense on Lambda.
  const broker = await createBroker(loaded, { audit: createJsonLineAuditSink(), metrics: noopTelemetry })
  const routes = deps.createRoutes(() => Promise.resolve(broker))
  const extra = builtin || values['dev-issuer'] ? await devIssuerRoutes(baseUrl) : undefined
  const server = await startLocalServer({ host, port, routes, ...(extra ? { extra } : {}) })
  process.stderr.write(
    `tessera listening on ${server.url} — config: ${loaded.file}; issuer: ${broker.issuer}; ` +
      `${loaded.config.providers.length} provider(s), ${loaded.config.policies.length} polic${loaded.config.policies.length === 1 ? 'y' : 'ies'}` +
      `${extra ? `; dev issuer at ${server.url}/dev` : ''}\n`,
  )
  return { server, broker }
}

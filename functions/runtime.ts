import { type Broker, createBroker } from '../lib/broker.js'
import type { CheckedConfig } from '../lib/config/check.js'
import { loadConfigJson } from '../lib/config/load-json.js'

let pending: Promise<Broker> | undefined

/**
 * The bundled config: JSON (what scripts/bundle.ts deploys, no YAML parser at cold start) or, for
 * any other name, YAML through the full loader, loaded on demand.
 */
async function loadLambdaConfig(): Promise<CheckedConfig> {
  const { readLambdaConfigText } = await import('../lib/config/lambda-source.js')
  const { file, text } = await readLambdaConfigText()
  if (file.toLowerCase().endsWith('.json')) return loadConfigJson(text, file)
  const { loadConfigText } = await import('../lib/config/load.js')
  return loadConfigText(text, file)
}

/** The Lambda's broker, built once per container from the bundled config; a failed init is retried. */
export function lambdaBroker(): Promise<Broker> {
  pending ??= loadLambdaConfig()
    .then((loaded) => createBroker(loaded))
    .catch((err: unknown) => {
      pending = undefined
      throw err
    })
  return pending
}

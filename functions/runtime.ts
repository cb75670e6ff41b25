import { type Broker, createBroker } from '../lib/broker.js'
import { loadConfigText } from '../lib/config/load.js'

let pending: Promise<Broker> | undefined

/** The Lambda's broker, built once per container from the bundled config; a failed init is retried. */
export function lambdaBroker(): Promise<Broker> {
  pending ??= (async () => {
    const { readLambdaConfigText } = await import('../lib/config/lambda-source.js')
    const { file, text } = await readLambdaConfigText()
    return createBroker(loadConfigText(text, file))
  })().catch((err: unknown) => {
    pending = undefined
    throw err
  })
  return pending
}

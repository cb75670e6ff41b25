import type { Broker } from '../../lib/broker.js'
import { nonceEndpoint } from '../../lib/instance/nonce-endpoint.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

/** The bare core, for tests and the local server. */
export const core = nonceEndpoint
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(nonceEndpoint, getBroker)
export const handler = makeHandler(lambdaBroker)

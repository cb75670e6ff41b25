import type { Broker } from '../../lib/broker.js'
import { exchangeToken } from '../../lib/token/exchange.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

/** The bare core, for tests and the local server. */
export const core = exchangeToken
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(exchangeToken, getBroker)
export const handler = makeHandler(lambdaBroker)

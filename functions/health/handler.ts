import type { Broker } from '../../lib/broker.js'
import { healthEndpoint } from '../../lib/endpoints/metadata.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

export const core = healthEndpoint
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(healthEndpoint, getBroker)
export const handler = makeHandler(lambdaBroker)

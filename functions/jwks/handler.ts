import type { Broker } from '../../lib/broker.js'
import { jwksEndpoint } from '../../lib/endpoints/metadata.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

export const core = jwksEndpoint
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(jwksEndpoint, getBroker)
export const handler = makeHandler(lambdaBroker)

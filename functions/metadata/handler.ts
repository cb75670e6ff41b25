import type { Broker } from '../../lib/broker.js'
import { metadataEndpoint } from '../../lib/endpoints/metadata.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

export const core = metadataEndpoint
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(metadataEndpoint, getBroker)
export const handler = makeHandler(lambdaBroker)

import { introspectEndpoint } from '../../lib/admin/endpoints.js'
import type { Broker } from '../../lib/broker.js'
import { lambdaEndpoint } from '../middleware/endpoint.js'
import { lambdaBroker } from '../runtime.js'

/** The bare core, for tests and the local server. */
export const core = introspectEndpoint
export const makeHandler = (getBroker: () => Promise<Broker>) => lambdaEndpoint(introspectEndpoint, getBroker)
export const handler = makeHandler(lambdaBroker)

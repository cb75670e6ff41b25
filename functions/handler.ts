import { endpointNamed } from '../lib/endpoints/manifest.js'
import { lambdaEndpoint } from './middleware/endpoint.js'
import { lambdaBroker } from './runtime.js'

// scripts/bundle.ts builds this entry once per endpoint and fixes TESSERA_ENDPOINT at build time,
// so each Lambda function serves exactly its manifest entry.
const endpoint = endpointNamed(process.env.TESSERA_ENDPOINT ?? '')

/** The Lambda handler of one manifest endpoint. */
export const handler = lambdaEndpoint(endpoint.core, lambdaBroker, endpoint.paths)

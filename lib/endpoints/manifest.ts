import type { AdminScope } from '../admin/authenticate.js'
import type { Broker } from '../broker.js'
import type { HttpRequest, HttpResponse } from '../http/types.js'
import { exchangeToken } from '../token/exchange.js'
import { healthEndpoint } from './health.js'
import { jwksEndpoint } from './jwks.js'
import { metadataEndpoint } from './metadata.js'

/** An endpoint core: a plain async function of the broker and the request. */
export type EndpointCore = (broker: Broker, req: HttpRequest) => Promise<HttpResponse>

/**
 * A core loaded on its first request: every function bundle holds the whole manifest, and the
 * admin, approval and inventory cores would otherwise weigh on every function's cold start.
 */
function onDemand(load: () => Promise<EndpointCore>): EndpointCore {
  let core: Promise<EndpointCore> | undefined
  return async (broker, req) => {
    core ??= load().catch((err: unknown) => {
      core = undefined
      throw err
    })
    return (await core)(broker, req)
  }
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'DELETE'
export type DynamoDbAction = `dynamodb:${'GetItem' | 'PutItem' | 'DeleteItem' | 'Query' | 'UpdateItem'}`
export type KmsAction = `kms:${'Sign' | 'GetPublicKey' | 'DescribeKey'}`
export type StsAction = `sts:${'AssumeRole' | 'TagSession' | 'SetSourceIdentity'}`

/** One endpoint, declared once: routes, bundles, IAM roles and the infra tests derive from it. */
export interface Endpoint {
  /** The Lambda function (serverless.yml `functions:` key, dist/<name>/). */
  readonly name: string
  /** Literal paths, or one `{name}` segment (`/approvals/{id}`), routed to the same core. */
  readonly paths: readonly string[]
  /** Methods the core answers; any other gets the JSON 405 from the core itself. */
  readonly methods: readonly HttpMethod[]
  readonly core: EndpointCore
  /** The scope an admin caller's Bearer Tessera token must hold. */
  readonly adminScope?: AdminScope | undefined
  /** Every AWS call the function makes: its IAM role allows exactly these. */
  readonly aws: {
    readonly dynamodb: readonly DynamoDbAction[]
    readonly kms?: readonly KmsAction[] | undefined
    readonly sts?: readonly StsAction[] | undefined
  }
}

// Every function builds the key ring at cold start (DescribeKey checks usage and spec, GetPublicKey
// caches the public key); only `token` signs.
const KEY_RING: readonly KmsAction[] = ['kms:GetPublicKey', 'kms:DescribeKey']

/** Every endpoint of the broker. */
export const ENDPOINTS = [
  {
    name: 'token',
    paths: ['/token'],
    methods: ['POST'],
    core: exchangeToken,
    // Replay PutItem, instance binding GetItem/PutItem, revocation list Query, Azure nonce PutItem,
    // approval requests PutItem and their polls GetItem/PutItem, usage records UpdateItem; an aws-iam caller's GetCallerIdentity is sent with the caller's own
    // signature.
    aws: {
      dynamodb: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      kms: ['kms:Sign', ...KEY_RING],
      sts: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
    },
  },
  {
    name: 'jwks',
    paths: ['/.well-known/jwks.json'],
    methods: ['GET', 'HEAD'],
    core: jwksEndpoint,
    aws: { dynamodb: [], kms: KEY_RING },
  },
  {
    name: 'metadata',
    paths: ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'],
    methods: ['GET', 'HEAD'],
    core: metadataEndpoint,
    aws: { dynamodb: [], kms: KEY_RING },
  },
  {
    name: 'introspect',
    paths: ['/introspect'],
    methods: ['POST'],
    core: onDemand(async () => (await import('./introspect.js')).introspect),
    adminScope: 'tessera:introspect',
    aws: { dynamodb: ['dynamodb:Query'], kms: KEY_RING },
  },
  {
    name: 'revoke',
    paths: ['/revoke'],
    methods: ['POST'],
    core: onDemand(async () => (await import('./revoke.js')).revoke),
    adminScope: 'tessera:revoke',
    // Revoke PutItem; lift GetItem/DeleteItem/PutItem; the revocation list Query.
    aws: {
      dynamodb: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:DeleteItem'],
      kms: KEY_RING,
    },
  },
  {
    name: 'inventory',
    paths: ['/inventory'],
    methods: ['GET'],
    core: onDemand(async () => (await import('./inventory.js')).inventoryEndpoint),
    adminScope: 'tessera:inventory',
    // The usage, binding and revocation partitions. On Lambda this function records no usage of its
    // own (token does), so it has nothing pending to write first.
    aws: { dynamodb: ['dynamodb:Query'], kms: KEY_RING },
  },
  {
    name: 'approvals',
    paths: ['/approvals', '/approvals/{id}'],
    methods: ['GET', 'POST'],
    core: onDemand(async () => (await import('./approvals.js')).approvalsEndpoint),
    adminScope: 'tessera:approve',
    // The approvers' index Query and a GetItem per listed request; a decision's GetItem and
    // conditional PutItem, and the DeleteItem of its index entry; the revocation list Query.
    aws: {
      dynamodb: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
      kms: KEY_RING,
    },
  },
  {
    name: 'health',
    paths: ['/healthz'],
    methods: ['GET', 'HEAD'],
    core: healthEndpoint,
    aws: { dynamodb: [], kms: KEY_RING },
  },
  {
    name: 'nonce',
    paths: ['/nonce'],
    methods: ['POST'],
    core: onDemand(async () => (await import('./nonce.js')).nonceEndpoint),
    // The rate-limit counter UpdateItem (an atomic ADD), the nonce PutItem.
    aws: { dynamodb: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], kms: KEY_RING },
  },
] as const satisfies readonly Endpoint[]

/** The name of an endpoint (= its Lambda function). */
export type EndpointName = (typeof ENDPOINTS)[number]['name']

/** The endpoint named `name`; throws for a name the manifest does not list (a build or wiring mistake). */
export function endpointNamed(name: string): Endpoint {
  const endpoint = ENDPOINTS.find((e) => e.name === name)
  if (!endpoint)
    throw new Error(`no endpoint named ${name}; known: ${ENDPOINTS.map((e) => e.name).join(', ')}`)
  return endpoint
}

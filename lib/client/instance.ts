import { homedir } from 'node:os'
import { join } from 'node:path'
import * as z from 'zod'
import { TokenTypes } from '../assertion/token-types.js'
import { InstanceMetadataError } from '../errors.js'
import { readBodyCapped } from '../http/bounded-fetch.js'
import { loadOrCreateNonce } from './instance-nonce.js'

// The public client API in one place: callers (CLI, tests) import from here.
export { loadOrCreateNonce } from './instance-nonce.js'

export type Cloud = 'aws' | 'azure' | 'gcp'

export interface InstanceAssertionOptions {
  /** The broker's base URL (its issuer); Azure nonces come from `<brokerUrl>/nonce`. */
  readonly brokerUrl: string
  /** GCP identity token audience; defaults to `brokerUrl`. */
  readonly audience?: string | undefined
  /** Metadata service base URL; defaults to TESSERA_IMDS_ENDPOINT, then the cloud's link-local address. */
  readonly imdsEndpoint?: string | undefined
  /** Where the AWS TOFU nonce is kept (0600); defaults to ~/.tessera/instance-nonce. */
  readonly nonceFile?: string | undefined
  readonly fetch?: typeof fetch | undefined
  /**
   * AWS presence proof (`binding.requireCallerIdentity`): send a signed sts:GetCallerIdentity made
   * with this instance's instance-profile credentials (read from IMDS) as `actor_token`, and the
   * TOFU nonce in the `nonce` parameter.
   */
  readonly callerIdentity?: boolean | undefined
  /** Presence proof: X-Tessera-Server-ID to sign into the GetCallerIdentity request. */
  readonly serverId?: string | undefined
  /** Presence proof: STS region to sign for; defaults to AWS_REGION, else the global endpoint. */
  readonly region?: string | undefined
  /** Presence proof: the signing clock (tests). */
  readonly now?: (() => Date) | undefined
}

export interface InstanceAssertion {
  readonly subjectToken: string
  readonly subjectTokenType: string
  readonly actorToken?: string
  readonly actorTokenType?: string
  readonly extra?: Record<string, string>
}

const TIMEOUT_MS = 2000
const MAX_BODY = 64 * 1024
const DEFAULT_ENDPOINTS: Readonly<Record<Cloud, string>> = {
  aws: 'http://169.254.169.254',
  azure: 'http://169.254.169.254',
  gcp: 'http://metadata.google.internal',
}

/**
 * Reads this instance's signed identity from the local metadata service and returns the token
 * exchange parameters for it: AWS rsa2048 PKCS#7 + TOFU nonce (or, with `callerIdentity`, a
 * presence proof as actor_token and the nonce as `nonce`), Azure attested data over a broker
 * nonce, or a GCP `format=full` identity token.
 */
export async function instanceAssertion(
  cloud: Cloud,
  opts: InstanceAssertionOptions,
): Promise<InstanceAssertion> {
  const endpoint = (
    opts.imdsEndpoint ??
    process.env.TESSERA_IMDS_ENDPOINT ??
    DEFAULT_ENDPOINTS[cloud]
  ).replace(/\/+$/, '')
  if (opts.callerIdentity && cloud !== 'aws')
    throw new InstanceMetadataError('the caller-identity presence proof exists only for AWS instances')
  const http = new MetadataClient(cloud, endpoint, opts.fetch ?? fetch)
  switch (cloud) {
    case 'aws': {
      const session = (
        await http.text('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' })
      ).trim()
      const pkcs7 = await http.text('GET', '/latest/dynamic/instance-identity/rsa2048', {
        'X-aws-ec2-metadata-token': session,
      })
      const nonce = await loadOrCreateNonce(opts.nonceFile ?? join(homedir(), '.tessera', 'instance-nonce'))
      const subject = { subjectToken: pkcs7.replace(/\s+/g, ''), subjectTokenType: TokenTypes.awsEc2Rsa2048 }
      if (!opts.callerIdentity) {
        return { ...subject, actorToken: nonce, actorTokenType: TokenTypes.instanceNonce }
      }
      const credentials = await instanceProfileCredentials(http, session)
      // Loaded only here: the SDK signing code is not needed for the other clouds.
      const { signedCallerIdentityToken } = await import('./aws-sigv4.js')
      const proof = await signedCallerIdentityToken({
        credentials: async () => credentials,
        ...(opts.serverId !== undefined ? { serverId: opts.serverId } : {}),
        ...(opts.region !== undefined ? { region: opts.region } : {}),
        ...(opts.now !== undefined ? { now: opts.now } : {}),
      })
      return { ...subject, actorToken: proof, actorTokenType: TokenTypes.awsSigv4, extra: { nonce } }
    }
    case 'azure': {
      const { nonce } = await fetchBrokerNonce(opts.brokerUrl, opts.fetch ?? fetch)
      const query = new URLSearchParams({ 'api-version': '2020-09-01', nonce })
      const body = AttestedSchema.safeParse(
        await http.json('GET', `/metadata/attested/document?${query}`, { Metadata: 'true' }),
      )
      if (!body.success)
        throw new InstanceMetadataError('the Azure metadata service returned no attested signature')
      return {
        subjectToken: body.data.signature.replace(/\s+/g, ''),
        subjectTokenType: TokenTypes.azureAttested,
      }
    }
    case 'gcp': {
      const query = new URLSearchParams({ audience: opts.audience ?? opts.brokerUrl, format: 'full' })
      const jwt = await http.text(
        'GET',
        `/computeMetadata/v1/instance/service-accounts/default/identity?${query}`,
        {
          'Metadata-Flavor': 'Google',
        },
      )
      if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(jwt.trim()))
        throw new InstanceMetadataError('the GCP metadata service returned no identity token')
      return { subjectToken: jwt.trim(), subjectTokenType: TokenTypes.jwt }
    }
  }
}

/** IMDS `iam/security-credentials/<role>`: the fields the signature needs, typed. */
const InstanceCredentialsSchema = z.object({
  Code: z.literal('Success'),
  AccessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/),
  SecretAccessKey: z.string().min(1).max(1024),
  Token: z.string().min(1).max(16_384),
})
const ROLE_NAME_RE = /^[\w+=,.@-]{1,64}$/
const CREDENTIALS_PATH = '/latest/meta-data/iam/security-credentials/'

/**
 * The instance-profile credentials straight from IMDS (not the SDK chain, which would prefer
 * environment variables or a profile: the presence proof must be signed as the instance itself).
 */
async function instanceProfileCredentials(
  http: MetadataClient,
  session: string,
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const headers = { 'X-aws-ec2-metadata-token': session }
  let listing: string
  try {
    listing = await http.text('GET', CREDENTIALS_PATH, headers)
  } catch (err) {
    if (err instanceof InstanceMetadataError && /HTTP 404/.test(err.message)) {
      throw new InstanceMetadataError(
        'this instance has no instance profile (IAM role); the presence proof (--caller-identity) needs one',
        { cause: err },
      )
    }
    throw err
  }
  const role = listing.split('\n')[0]?.trim() ?? ''
  if (!ROLE_NAME_RE.test(role))
    throw new InstanceMetadataError('the AWS metadata service named no instance-profile role')
  const parsed = InstanceCredentialsSchema.safeParse(
    await http.json('GET', `${CREDENTIALS_PATH}${role}`, headers),
  )
  if (!parsed.success)
    throw new InstanceMetadataError(
      `the AWS metadata service returned no usable credentials for role ${role}`,
    )
  return {
    accessKeyId: parsed.data.AccessKeyId,
    secretAccessKey: parsed.data.SecretAccessKey,
    sessionToken: parsed.data.Token,
  }
}

const AttestedSchema = z.object({ signature: z.string().min(1).max(MAX_BODY) })
const NonceResponseSchema = z.object({ nonce: z.string().regex(/^\d{10}$/), expires_in: z.number() })

async function fetchBrokerNonce(brokerUrl: string, fetcher: typeof fetch): Promise<{ nonce: string }> {
  const url = `${brokerUrl.replace(/\/+$/, '')}/nonce`
  let res: Response
  try {
    res = await fetcher(url, { method: 'POST', signal: AbortSignal.timeout(5000) })
  } catch (err) {
    throw new InstanceMetadataError(`cannot reach the broker at ${url}`, { cause: err })
  }
  const text = await readCapped(res)
  if (!res.ok)
    throw new InstanceMetadataError(`the broker refused a nonce (HTTP ${res.status}): ${text.slice(0, 200)}`)
  const parsed = NonceResponseSchema.safeParse(safeJson(text))
  if (!parsed.success) throw new InstanceMetadataError('the broker returned a malformed nonce')
  return parsed.data
}

/** Talks to one metadata service with a 2 s timeout per call and a clear off-cloud error. */
class MetadataClient {
  constructor(
    private readonly cloud: Cloud,
    private readonly endpoint: string,
    private readonly fetcher: typeof fetch,
  ) {}

  async text(method: string, path: string, headers: Record<string, string>): Promise<string> {
    let res: Response
    try {
      res = await this.fetcher(`${this.endpoint}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
    } catch (err) {
      throw new InstanceMetadataError(
        `cannot reach the ${this.cloud} instance metadata service at ${this.endpoint} within ${TIMEOUT_MS / 1000} s; is this running on ${this.cloud}? (TESSERA_IMDS_ENDPOINT overrides the address)`,
        { cause: err },
      )
    }
    const body = await readCapped(res)
    if (!res.ok)
      throw new InstanceMetadataError(
        `the ${this.cloud} metadata service answered HTTP ${res.status} for ${path.split('?')[0]}`,
      )
    return body
  }

  async json(method: string, path: string, headers: Record<string, string>): Promise<unknown> {
    return safeJson(await this.text(method, path, headers))
  }
}

/** Reads at most MAX_BODY bytes, stopping the download there (the peer may be hostile or broken). */
async function readCapped(res: Response): Promise<string> {
  const bytes = await readBodyCapped(res, MAX_BODY)
  if (bytes === undefined) throw new InstanceMetadataError('metadata response too large')
  return Buffer.from(bytes).toString('utf8')
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

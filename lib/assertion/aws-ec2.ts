import * as z from 'zod'
import type { AuditSink } from '../audit/types.js'
import type { AwsEc2ProviderConfig } from '../config/providers/aws-ec2.js'
import { InvalidRequest } from '../errors.js'
import { bindInstance } from '../instance/binding.js'
import { consumeOnce } from '../store/replay.js'
import type { StateTable } from '../store/types.js'
import { AWS_RSA2048_CERTIFICATES } from './aws-certificates.js'
import { decodeBase64Strict, parseSignedData, parseSignedDocument, verifySignerInfo } from './cms.js'
import { tokenHash } from './token-hash.js'
import { TokenTypes } from './token-types.js'
import type { AssertionInput, AssertionVerifier, VerifiedSubject } from './types.js'
import { isNamedBy, type ParsedCertificate, parsePemCertificates } from './x509.js'

/** Subject tokens beyond this many characters are refused before any parsing. */
export const MAX_INSTANCE_TOKEN_CHARS = 16 * 1024
const USE_RSA2048 =
  'send the base64 PKCS#7 from IMDSv2 /latest/dynamic/instance-identity/rsa2048 (the /pkcs7 DSA-SHA1 and /signature RSA-1024 forms are refused)'

/** The signed document's fields Tessera relies on; extra members are ignored, these must be typed. */
const IdentityDocumentSchema = z.object({
  accountId: z.string().regex(/^\d{12}$/),
  instanceId: z.string().regex(/^i-[0-9a-f]{8,32}$/),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/),
  availabilityZone: z.string().min(1).max(64),
  imageId: z.string().regex(/^ami-[0-9a-f]{8,32}$/),
  instanceType: z.string().min(1).max(64),
  architecture: z.string().min(1).max(32),
  pendingTime: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/),
  privateIp: z.string().max(64).nullable().optional(),
})
type IdentityDocument = z.infer<typeof IdentityDocumentSchema>

interface PinnedCertificate {
  readonly cert: ParsedCertificate
  readonly regions: ReadonlySet<string>
}

interface CompiledProvider {
  readonly config: AwsEc2ProviderConfig
  readonly pinned: readonly PinnedCertificate[]
}

export interface AwsEc2Deps {
  readonly table: StateTable
  readonly audit: AuditSink
  /** Epoch milliseconds. */
  readonly now: () => number
  /** The aws-iam verifier, for `binding.requireCallerIdentity` presence proofs. */
  readonly awsIam?: AssertionVerifier | undefined
}

/** Verifier for `kind: aws-ec2`: full CMS check against pinned AWS certificates, then TOFU binding. */
export function createAwsEc2Verifier(
  providers: readonly AwsEc2ProviderConfig[],
  deps: AwsEc2Deps,
): AssertionVerifier {
  const compiled = providers.map(compileProvider)
  if (!deps.awsIam && providers.some((p) => p.binding.requireCallerIdentity)) {
    throw new Error('aws-ec2 binding.requireCallerIdentity needs the aws-iam verifier')
  }
  return {
    tokenTypes: [TokenTypes.awsEc2Rsa2048],
    actorTokenTypes: [TokenTypes.instanceNonce, TokenTypes.awsSigv4],
    async verify(input) {
      const { provider, document, region } = verifyDocument(compiled, input.subjectToken)
      const pendingTime = Math.floor(Date.parse(document.pendingTime) / 1000)
      const claims: Record<string, unknown> = {
        sub: document.instanceId,
        instance_id: document.instanceId,
        account_id: document.accountId,
        region: document.region,
        availability_zone: document.availabilityZone,
        image_id: document.imageId,
        instance_type: document.instanceType,
        architecture: document.architecture,
        pending_time: document.pendingTime,
        ...(document.privateIp ? { private_ip: document.privateIp } : {}),
      }
      const binding = provider.config.binding
      let nonce: string | undefined
      if (binding.requireCallerIdentity) {
        const proof = await provePresence(deps.awsIam as AssertionVerifier, input, document)
        claims.role = proof.role
        // The proof is a signed request STS honours for 5 minutes: consumed here, before the
        // binding is touched, so a captured proof cannot raise clone alerts or refresh lastSeen.
        if (proof.replay) await consumeProof(deps.table, proof.replay)
        nonce = input.params.get('nonce')
      } else {
        if (input.actorTokenType !== TokenTypes.instanceNonce) {
          throw new InvalidRequest(
            `send the instance nonce as actor_token with actor_token_type=${TokenTypes.instanceNonce}`,
          )
        }
        nonce = input.actorToken
      }
      await bindInstance(deps.table, deps.audit, {
        provider: provider.config.name,
        instanceId: document.instanceId,
        accountId: document.accountId,
        region,
        pendingTime,
        nonce: nonce ?? '',
        now: Math.floor(deps.now() / 1000),
        requestId: input.requestId,
        registrationWindow: binding.registrationWindow,
        lifetime: binding.lifetime,
      })
      return {
        provider: provider.config.name,
        kind: 'aws-ec2',
        issuer: `ec2.${region}.amazonaws.com`,
        sub: document.instanceId,
        claims,
        tokenHash: tokenHash(input.subjectToken),
      } satisfies VerifiedSubject
    },
  }
}

function compileProvider(config: AwsEc2ProviderConfig): CompiledProvider {
  const byDer = new Map<string, { cert: ParsedCertificate; regions: Set<string> }>()
  const entries = { ...AWS_RSA2048_CERTIFICATES, ...(config.certificates ?? {}) }
  for (const [region, pem] of Object.entries(entries)) {
    let certs: ParsedCertificate[]
    try {
      certs = parsePemCertificates(pem)
    } catch (err) {
      throw new Error(
        `provider ${config.name}: certificates.${region} is not a PEM certificate (${String(err)})`,
      )
    }
    for (const cert of certs) {
      const key = cert.der.toString('base64')
      const found = byDer.get(key) ?? { cert, regions: new Set<string>() }
      found.regions.add(region)
      byDer.set(key, found)
    }
  }
  return { config, pinned: [...byDer.values()] }
}

/** Refuses the other IMDS forms with a message naming /rsa2048. */
function classifyToken(token: string): void {
  if (token.length === 0) throw new InvalidRequest(`empty subject_token; ${USE_RSA2048}`)
  if (token.length > MAX_INSTANCE_TOKEN_CHARS)
    throw new InvalidRequest(`subject_token is too large; ${USE_RSA2048}`)
  if (token.startsWith('{') || token.includes('-----BEGIN')) {
    throw new InvalidRequest(`subject_token must be the bare base64 rsa2048 PKCS#7; ${USE_RSA2048}`)
  }
}

function verifyDocument(
  providers: readonly CompiledProvider[],
  token: string,
): { provider: CompiledProvider; document: IdentityDocument; region: string } {
  classifyToken(token)
  const der = decodeBase64Strict(token, 'subject_token')
  let parts: ReturnType<typeof parseSignedData>
  try {
    parts = parseSignedData(der)
  } catch (err) {
    // A bare RSA-1024 signature (/signature) decodes to 128 bytes that are not CMS.
    if (der.length === 128)
      throw new InvalidRequest(`this looks like the /signature RSA-1024 form; ${USE_RSA2048}`)
    throw err
  }
  if (parts.digestOid === '1.3.14.3.2.26' || parts.signatureOid.startsWith('1.2.840.10040.4')) {
    throw new InvalidRequest(`this looks like the /pkcs7 DSA-SHA1 form; ${USE_RSA2048}`)
  }
  const signer = providers.flatMap((p) => p.pinned).find((pin) => isNamedBy(parts.signerId, pin.cert))
  if (!signer) throw new InvalidRequest('the document is not signed by a pinned AWS rsa2048 certificate')
  verifySignerInfo(parts, signer.cert.x509.publicKey, {
    digests: ['sha256'],
    requireSignedAttrs: true,
    minRsaBits: 2048,
  })
  const document = parseDocument(parts.content)
  const mapsRegion = (p: CompiledProvider) =>
    p.pinned.some((pin) => pin.cert.der.equals(signer.cert.der) && pin.regions.has(document.region))
  if (!providers.some(mapsRegion)) {
    throw new InvalidRequest(
      'the document region does not match the region of the certificate that signed it',
    )
  }
  const provider = providers.find((p) => mapsRegion(p) && p.config.accounts.includes(document.accountId))
  if (!provider) throw new InvalidRequest('the instance account is not allowed by any aws-ec2 provider')
  return { provider, document, region: document.region }
}

function parseDocument(content: Buffer): IdentityDocument {
  const document = parseSignedDocument(
    content,
    IdentityDocumentSchema,
    'the signed instance identity document',
  )
  if (!Number.isFinite(Date.parse(document.pendingTime)))
    throw new InvalidRequest('pendingTime is not a valid time')
  return document
}

const SESSION_ARN = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{1,64})$/

/** Checks the instance-profile credentials' caller identity; returns the role name and the proof's replay key. */
async function provePresence(
  awsIam: AssertionVerifier,
  input: AssertionInput,
  document: IdentityDocument,
): Promise<{ role: string; replay: VerifiedSubject['replay'] }> {
  if (input.actorTokenType !== TokenTypes.awsSigv4 || !input.actorToken) {
    throw new InvalidRequest(
      `this provider requires a presence proof: a signed sts:GetCallerIdentity as actor_token with actor_token_type=${TokenTypes.awsSigv4}, and the instance nonce in the \`nonce\` parameter`,
    )
  }
  const caller = await awsIam.verify({
    ...input,
    subjectToken: input.actorToken,
    subjectTokenType: TokenTypes.awsSigv4,
    actorToken: undefined,
    actorTokenType: undefined,
  })
  const m = SESSION_ARN.exec(caller.sub)
  if (!m || m[1] !== document.accountId || m[3] !== document.instanceId) {
    throw new InvalidRequest(
      'the presence proof must come from the instance profile of this instance (assumed-role session named after the instance id, same account)',
    )
  }
  return { role: m[2] as string, replay: caller.replay }
}

/** Consumes the presence proof's single-use key; refuses a proof presented before. */
async function consumeProof(
  table: StateTable,
  replay: NonNullable<VerifiedSubject['replay']>,
): Promise<void> {
  if (!(await consumeOnce(table, replay.key, replay.expiresAt)))
    throw new InvalidRequest('the presence proof (actor_token) has already been used')
}

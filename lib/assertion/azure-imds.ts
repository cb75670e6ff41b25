import type { KeyObject } from 'node:crypto'
import * as z from 'zod'
import type { AuditSink } from '../audit/types.js'
import type { AzureImdsProviderConfig } from '../config/providers/azure-imds.js'
import { InvalidRequest } from '../errors.js'
import { createNonceService } from '../instance/nonce.js'
import { replayExpiresAt } from '../store/replay.js'
import type { StateTable } from '../store/types.js'
import { AZURE_ROOT_CERTIFICATES } from './azure-roots.js'
import { decodeBase64Strict, parseSignedData, parseSignedDocument, verifySignerInfo } from './cms.js'
import { tokenHash } from './token-hash.js'
import { TokenTypes } from './token-types.js'
import type { AssertionVerifier, VerifiedSubject } from './types.js'
import {
  buildChain,
  isNamedBy,
  type ParsedCertificate,
  parseCertificate,
  parsePemCertificates,
} from './x509.js'

const MAX_TOKEN_CHARS = 16 * 1024

/** Azure IMDS timestamps look like `11/10/20 21:34:12 -0000` (MM/dd/yy HH:mm:ss ±hhmm). */
const AZURE_TIME = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/

const AttestedDocumentSchema = z.object({
  nonce: z.string().regex(/^\d{10}$/, 'nonce must be a Tessera nonce (10 digits)'),
  vmId: z.string().regex(/^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/),
  subscriptionId: z.string().min(1).max(64),
  sku: z.string().max(256).optional(),
  licenseType: z.string().max(256).optional(),
  plan: z
    .object({ name: z.string().max(256), product: z.string().max(256), publisher: z.string().max(256) })
    .partial()
    .optional(),
  timeStamp: z.object({ createdOn: z.string(), expiresOn: z.string() }),
})

interface CompiledProvider {
  readonly config: AzureImdsProviderConfig
  readonly roots: readonly ParsedCertificate[]
  readonly intermediates: readonly ParsedCertificate[]
  readonly signerNames: ReadonlySet<string>
}

export interface AzureImdsDeps {
  readonly table: StateTable
  readonly audit: AuditSink
  /** Epoch milliseconds. */
  readonly now: () => number
}

/** Verifier for `kind: azure-imds`: CMS signer chained to configured roots, then a single-use Tessera nonce. */
export function createAzureImdsVerifier(
  providers: readonly AzureImdsProviderConfig[],
  deps: AzureImdsDeps,
): AssertionVerifier {
  const compiled = providers.map(compileProvider)
  // Rate limiting belongs to issue(); consume() only needs the table and clock.
  const nonces = createNonceService(deps.table, { rateLimitPerMinute: 1, now: deps.now })
  return {
    tokenTypes: [TokenTypes.azureAttested],
    actorTokenTypes: [],
    async verify(input) {
      const now = deps.now()
      const token = input.subjectToken
      if (token.length === 0 || token.length > MAX_TOKEN_CHARS) {
        throw new InvalidRequest(
          'subject_token must be the base64 `signature` of IMDS /metadata/attested/document (at most 16 KiB)',
        )
      }
      const parts = parseSignedData(decodeBase64Strict(token, 'subject_token'))
      const blobCerts = parts.certificates.flatMap((der) => {
        try {
          return [parseCertificate(der)]
        } catch {
          return []
        }
      })
      const named = blobCerts.filter((c) => isNamedBy(parts.signerId, c))
      const leaf = named[0]
      if (!leaf || named.some((c) => !c.der.equals(leaf.der))) {
        throw new InvalidRequest(
          'the PKCS#7 blob does not carry exactly the certificate its SignerInfo names',
        )
      }
      if (leaf.keyUsage && !leaf.keyUsage.digitalSignature)
        throw new InvalidRequest('the signer certificate may not sign')
      verifySignerInfo(parts, publicKeyOf(leaf), {
        digests: ['sha256', 'sha384', 'sha512'],
        requireSignedAttrs: false,
        minRsaBits: 2048,
      })
      const others = blobCerts.filter((c) => !c.der.equals(leaf.der))
      const trusting = compiled.filter(
        (p) =>
          leaf.commonNames.length === 1 &&
          p.signerNames.has((leaf.commonNames[0] as string).toLowerCase()) &&
          // configured intermediates first: the candidate list is capped, and the blob is the caller's
          buildChain(leaf, [...p.intermediates, ...others], p.roots, now) !== undefined,
      )
      if (trusting.length === 0) {
        throw new InvalidRequest(
          'the attested data signer is not a currently valid certificate for an allowed signer name chaining to a trusted root',
        )
      }
      const document = parseDocument(parts.content)
      const tolerance = (p: CompiledProvider) => p.config.clockTolerance * 1000
      const createdOn = parseAzureTime(document.timeStamp.createdOn, 'createdOn')
      const expiresOn = parseAzureTime(document.timeStamp.expiresOn, 'expiresOn')
      const provider = trusting.find((p) => p.config.subscriptions.includes(document.subscriptionId))
      if (!provider) throw new InvalidRequest('the VM subscription is not allowed by any azure-imds provider')
      if (expiresOn + tolerance(provider) <= now)
        throw new InvalidRequest('the attested document has expired')
      if (createdOn - tolerance(provider) > now)
        throw new InvalidRequest('the attested document is dated in the future')
      // Last, so a document failing any other check cannot burn a nonce.
      // The consumed nonce outlives the last instant this document is accepted (plus the margin),
      // so its digits cannot be re-issued and the document replayed with them.
      const fresh = await nonces.consume(document.nonce, replayExpiresAt(expiresOn + tolerance(provider)))
      if (!fresh) {
        throw new InvalidRequest(
          'the attested document nonce was not issued by this broker, is expired, or was already used',
        )
      }
      const claims: Record<string, unknown> = {
        sub: document.vmId,
        vm_id: document.vmId,
        subscription_id: document.subscriptionId,
        ...(document.sku ? { sku: document.sku } : {}),
        ...(document.licenseType ? { license_type: document.licenseType } : {}),
        ...(document.plan?.name ? { plan: document.plan.name } : {}),
        ...(document.plan?.product ? { plan_product: document.plan.product } : {}),
        ...(document.plan?.publisher ? { plan_publisher: document.plan.publisher } : {}),
      }
      return {
        provider: provider.config.name,
        kind: 'azure-imds',
        issuer: leaf.commonNames[0] as string,
        sub: document.vmId,
        claims,
        tokenHash: tokenHash(token),
        expiresAt: Math.floor(expiresOn / 1000),
      } satisfies VerifiedSubject
    },
  }
}

function compileProvider(config: AzureImdsProviderConfig): CompiledProvider {
  const parse = (pems: readonly string[], what: string) =>
    pems.flatMap((pem, i) => {
      try {
        return parsePemCertificates(pem)
      } catch (err) {
        throw new Error(`provider ${config.name}: ${what}[${i}] is not a PEM certificate (${String(err)})`)
      }
    })
  return {
    config,
    roots: parse(config.roots ?? AZURE_ROOT_CERTIFICATES, 'roots'),
    intermediates: parse(config.intermediates ?? [], 'intermediates'),
    signerNames: new Set(config.signerNames.map((n) => n.toLowerCase())),
  }
}

function parseDocument(content: Buffer): z.infer<typeof AttestedDocumentSchema> {
  return parseSignedDocument(content, AttestedDocumentSchema, 'the signed attested document')
}

/** Parses an Azure IMDS timestamp to epoch ms; refuses anything else. */
export function parseAzureTime(text: string, field: string): number {
  const m = AZURE_TIME.exec(text)
  if (!m) throw new InvalidRequest(`timeStamp.${field} is not an Azure IMDS timestamp`)
  const n = (i: number) => Number(m[i])
  const [month, day, hour, minute, second] = [n(1), n(2), n(4), n(5), n(6)]
  const local = Date.UTC(2000 + n(3), month - 1, day, hour, minute, second)
  const check = new Date(local)
  if (
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new InvalidRequest(`timeStamp.${field} is not a valid date`)
  }
  const offsetMs = (n(8) * 60 + n(9)) * 60_000 * (m[7] === '-' ? -1 : 1)
  return local - offsetMs
}

/** The certificate's key; a key OpenSSL cannot decode is the caller's malformed input, not a 500. */
function publicKeyOf(cert: ParsedCertificate): KeyObject {
  try {
    return cert.x509.publicKey
  } catch {
    throw new InvalidRequest('the signer certificate carries an unusable public key')
  }
}

import { randomBytes } from 'node:crypto'
import { createAwsEc2Verifier } from '../../lib/assertion/aws-ec2.js'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import type { AssertionInput, AssertionVerifier } from '../../lib/assertion/types.js'
import { MemoryAuditSink } from '../../lib/audit/logger-sink.js'
import { AwsEc2ProviderSchema } from '../../lib/config/providers/aws-ec2.js'
import { FormParams } from '../../lib/http/form.js'
import type { StateTable } from '../../lib/store/types.js'
import type { StsPrincipal } from '../fakes/sts.js'
import { buildSignedData, makeCert, rsaKey, type SignOptions, type TestCert } from '../helpers/cms-builder.js'

export const ACCOUNT = '111122223333'
export const INSTANCE = 'i-0123456789abcdef0'

/** The instance-profile session EC2 creates for INSTANCE: named after the instance id. */
export const INSTANCE_PROFILE: StsPrincipal = {
  accessKeyId: 'ASIATESTINSTANCE0001',
  secretAccessKey: 'instance-secret-key/dddddddddddddddddddddddddddd',
  sessionToken: 'IQoJb3JpZ2luX2VjEINSTANCEPROFILETOKEN+/=',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-role/${INSTANCE}`,
  account: ACCOUNT,
  userId: `AROATESTFLEETROLE:${INSTANCE}`,
}
/** The same role, but a session named after another instance (credentials lifted from it). */
export const OTHER_SESSION: StsPrincipal = {
  ...INSTANCE_PROFILE,
  accessKeyId: 'ASIATESTINSTANCE0002',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-role/i-0fedcba9876543210`,
}
/** Fixed test clock: 2026-03-01T12:00:00Z. */
export const NOW = Date.parse('2026-03-01T12:00:00Z')

/** The stand-in for AWS's us-east-1 rsa2048 certificate (self-signed, pinned through config). */
export const pinned: TestCert = makeCert({
  cn: 'Amazon Web Services LLC (test us-east-1)',
  ca: true,
  keyPair: rsaKey(true),
})

export function document(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    accountId: ACCOUNT,
    architecture: 'x86_64',
    availabilityZone: 'us-east-1a',
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: 'ami-0abcdef1234567890',
    instanceId: INSTANCE,
    instanceType: 't3.micro',
    kernelId: null,
    pendingTime: new Date(NOW - 5 * 60_000).toISOString().replace('.000Z', 'Z'),
    privateIp: '10.0.1.23',
    ramdiskId: null,
    region: 'us-east-1',
    version: '2017-09-30',
    ...overrides,
  }
}

/** base64 rsa2048-style PKCS#7 over `doc` (or raw text), signed by the pinned certificate unless told. */
export function ec2Token(
  doc: Record<string, unknown> | string = document(),
  opts: Partial<SignOptions> = {},
): string {
  const content = typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2)
  return buildSignedData({ content, signer: pinned, certificates: [pinned], ...opts }).toString('base64')
}

export const nonce = () => randomBytes(32).toString('base64url')

export function providerConfig(extra: Record<string, unknown> = {}) {
  return AwsEc2ProviderSchema.parse({
    name: 'ec2-fleet',
    kind: 'aws-ec2',
    accounts: [ACCOUNT],
    certificates: { 'us-east-1': pinned.pem },
    ...extra,
  })
}

export interface Ec2Harness {
  readonly verifier: AssertionVerifier
  readonly audit: MemoryAuditSink
  clock: number
}

export function harness(
  table: StateTable,
  extra: Record<string, unknown> = {},
  awsIam?: AssertionVerifier,
): Ec2Harness {
  const audit = new MemoryAuditSink()
  const h: { verifier?: AssertionVerifier; audit: MemoryAuditSink; clock: number } = { audit, clock: NOW }
  h.verifier = createAwsEc2Verifier([providerConfig(extra)], { table, audit, now: () => h.clock, awsIam })
  return h as Ec2Harness
}

export function input(
  subjectToken: string,
  actor: { token?: string; type?: string } = {},
  params: Record<string, string> = {},
  now = NOW,
): AssertionInput {
  return {
    subjectToken,
    subjectTokenType: TokenTypes.awsEc2Rsa2048,
    actorToken: actor.token,
    actorTokenType: actor.type ?? (actor.token ? TokenTypes.instanceNonce : undefined),
    params: new FormParams(new Map(Object.entries(params).map(([k, v]) => [k, [v]]))),
    requestId: 'req-test',
    sourceIp: '127.0.0.1',
    now,
  }
}

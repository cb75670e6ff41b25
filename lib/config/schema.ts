import * as z from 'zod'
import { boundedDuration } from './duration.js'
import { AwsEc2ProviderSchema } from './providers/aws-ec2.js'
import { AwsIamProviderSchema } from './providers/aws-iam.js'
import { AzureImdsProviderSchema } from './providers/azure-imds.js'
import { NameSchema } from './providers/common.js'
import { OidcProviderSchema } from './providers/oidc.js'
import { IssuerSchema } from './url.js'

export const SIGNING_ALGORITHMS = ['ES256', 'RS256', 'PS256'] as const
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]

/** Where a signing key lives: a local private JWK file, or an AWS KMS key (id, alias or ARN). */
const KeyRefSchema = z.union([
  z.strictObject({ local: z.string().min(1) }),
  z.strictObject({ kms: z.string().min(1) }),
])
export type KeyRef = z.output<typeof KeyRefSchema>

const RotatingKeySchema = z.union([
  z.strictObject({ local: z.string().min(1), active: z.boolean().default(false) }),
  z.strictObject({ kms: z.string().min(1), active: z.boolean().default(false) }),
])

export const SigningSchema = z
  .strictObject({
    algorithm: z.enum(SIGNING_ALGORITHMS).default('ES256'),
    key: KeyRefSchema.optional(),
    /** Rotation: every key is published in the JWKS; exactly one is `active` (signs). */
    keys: z.array(RotatingKeySchema).min(1).max(5).optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.key === undefined) === (s.keys === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of signing.key or signing.keys' })
    } else if (s.keys && s.keys.filter((k) => k.active).length !== 1) {
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'exactly one key must be `active: true`' })
    }
  })
export type SigningConfig = z.output<typeof SigningSchema>

export const StoreSchema = z.union([
  z.strictObject({ memory: z.strictObject({}) }),
  z.strictObject({
    dynamodb: z.strictObject({
      table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/),
      region: z.string().optional(),
    }),
  }),
])
export type StoreConfig = z.output<typeof StoreSchema>

export const ProviderSchema = z.discriminatedUnion('kind', [
  OidcProviderSchema,
  AwsIamProviderSchema,
  AwsEc2ProviderSchema,
  AzureImdsProviderSchema,
])
export type ProviderConfig = z.output<typeof ProviderSchema>

/** A claim matcher: exact scalar, any-of list, `{glob}` or `{regex}` (full match, linear time). */
const ScalarSchema = z.union([z.string(), z.number(), z.boolean()])
export const MatcherSchema = z.union([
  ScalarSchema,
  z.array(ScalarSchema).min(1),
  z.strictObject({ glob: z.string().min(1) }),
  z.strictObject({ regex: z.string().min(1) }),
])
export type MatcherSpec = z.output<typeof MatcherSchema>

/** RFC 6749 §3.3 scope-token. */
const ScopeTokenSchema = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'is not a valid scope token')

export const TokenGrantSchema = z.strictObject({
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  scopes: z.array(ScopeTokenSchema).default([]),
  ttl: boundedDuration(60, 12 * 3600).default(600),
})
export type TokenGrant = z.output<typeof TokenGrantSchema>

export const AwsRoleArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN')

/** zod's record silently drops a `__proto__` key: refuse it so nothing configured can disappear. */
const withoutProto = (what: string) =>
  z.custom<unknown>((raw) => !(typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__')), {
    message: `__proto__ cannot be ${what}`,
  })

export const AwsGrantSchema = z.strictObject({
  roleArn: AwsRoleArnSchema,
  duration: boundedDuration(900, 43_200).default(900),
  /** Inline session policy (JSON text or a YAML object), further narrowing the role. */
  sessionPolicy: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** Session tag templates over the subject's claims: `{ repo: "{{repository}}" }`. */
  sessionTags: withoutProto('a session tag key').pipe(z.record(z.string(), z.string())).optional(),
  /** SourceIdentity template; defaults to the subject. */
  sourceIdentity: z.string().min(1).optional(),
})
export type AwsGrant = z.output<typeof AwsGrantSchema>

export const GrantSchema = z
  .strictObject({ token: TokenGrantSchema.optional(), aws: AwsGrantSchema.optional() })
  .refine((g) => (g.token === undefined) !== (g.aws === undefined), {
    message: 'a grant has exactly one of `token` or `aws`',
  })
export type Grant = z.output<typeof GrantSchema>

const MatchSchema = withoutProto('a claim name')
  .pipe(z.record(z.string().min(1), MatcherSchema))
  .refine((m) => Object.keys(m).length > 0, { message: 'match needs at least one claim condition' })

export const PolicySchema = z.strictObject({
  name: NameSchema,
  description: z.string().optional(),
  provider: NameSchema,
  match: MatchSchema,
  grant: GrantSchema,
  /** Acknowledges a deliberately broad subject pattern (lint); the reason is recorded. */
  allowBroad: z.string().min(1).optional(),
})
export type PolicyConfig = z.output<typeof PolicySchema>

export const ConfigSchema = z.strictObject({
  issuer: IssuerSchema,
  signing: SigningSchema.prefault({ key: { local: '.tessera/signing-key.json' } }),
  store: StoreSchema.default({ memory: {} }),
  nonce: z.strictObject({ rateLimit: z.number().int().min(1).max(100_000).default(120) }).prefault({}),
  providers: z.array(ProviderSchema).min(1),
  policies: z.array(PolicySchema).default([]),
})
export type Config = z.output<typeof ConfigSchema>

import * as z from 'zod'
import { globProblem } from '../policy/glob.js'
import { boundedDuration, DurationSchema } from './duration.js'
import { GithubConfigSchema, GithubGrantSchema } from './github.js'
import { AwsEc2ProviderSchema } from './providers/aws-ec2.js'
import { AwsIamProviderSchema } from './providers/aws-iam.js'
import { AzureImdsProviderSchema } from './providers/azure-imds.js'
import { NameSchema } from './providers/common.js'
import { OidcProviderSchema } from './providers/oidc.js'
import { HttpsUrlSchema, IssuerSchema } from './url.js'

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
  /** `required`: only a request with a DPoP proof gets this token (RFC 9449); default optional. */
  dpop: z.enum(['required', 'optional']).optional(),
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

// Human approval and delegation: a grant held until approvers decide, and a policy's actor.
/** `approval:` on a grant: hold the credential until `minApprovals` distinct approvers approve. */
export const ApprovalSchema = z.strictObject({
  /** Approvers hold a Tessera token minted by this policy, with scope tessera:approve. */
  approvers: z.strictObject({ policy: NameSchema }),
  minApprovals: z.number().int().min(1).max(10).default(1),
  timeout: boundedDuration(1, 24 * 3600).default(600),
  notify: z.strictObject({ webhook: HttpsUrlSchema }).optional(),
})
export type ApprovalConfig = z.output<typeof ApprovalSchema>

export const GrantSchema = z
  .strictObject({
    token: TokenGrantSchema.optional(),
    aws: AwsGrantSchema.optional(),
    github: GithubGrantSchema.optional(),
    approval: ApprovalSchema.optional(),
  })
  .refine((g) => [g.token, g.aws, g.github].filter((k) => k !== undefined).length === 1, {
    message: 'a grant has exactly one of `token`, `aws` or `github`',
  })
export type Grant = z.output<typeof GrantSchema>

// --- Policy bounds: rate limits and guardrails ---------------------------------------------------

const RATE_UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const
const RATE_UNIT_NAMES = { s: 'second', m: 'minute', h: 'hour', d: 'day' } as const

/** `30/m`: at most 30 exchanges per fixed window of one minute (units s, m, h, d). */
export const RateLimitSchema = z.string().transform((text, ctx) => {
  const m = /^([1-9]\d{0,8})\/(s|m|h|d)$/.exec(text)
  if (!m) {
    ctx.addIssue({
      code: 'custom',
      message: `'${text}' is not a rate limit: use <count>/<unit> with unit s, m, h or d (e.g. 30/m)`,
    })
    return z.NEVER
  }
  const unit = m[2] as keyof typeof RATE_UNIT_SECONDS
  return {
    count: Number(m[1]),
    windowSeconds: RATE_UNIT_SECONDS[unit],
    text: `${m[1]} per ${RATE_UNIT_NAMES[unit]}`,
  }
})
export type RateLimit = z.output<typeof RateLimitSchema>

/** A glob as policies write them (`*` within a `/` or `:` segment, `**` across). */
const GlobTextSchema = z.string().superRefine((glob, ctx) => {
  const problem = globProblem(glob)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

export const PERMISSION_LEVELS = ['read', 'write', 'admin'] as const
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number]

/** Ceilings a security team sets apart from the policies; a policy beyond one is refused. */
export const GuardrailsSchema = z.strictObject({
  /** The longest token ttl or AWS session duration any grant may have. */
  maxTtl: DurationSchema.optional(),
  /** Audiences a token grant may name (exact or glob). */
  audiences: z.array(GlobTextSchema).min(1).optional(),
  /** IAM role ARNs an aws grant may name (globs). */
  awsRoles: z.array(GlobTextSchema).min(1).optional(),
  github: z
    .strictObject({
      owners: z.array(z.string().min(1)).min(1).optional(),
      /** Per permission, the highest level a grant may ask; a permission not listed may not be granted. */
      maxPermissions: withoutProto('a permission name')
        .pipe(z.record(z.string().min(1), z.enum(PERMISSION_LEVELS)))
        .optional(),
    })
    .optional(),
  /** Per provider or preset name, claims every policy of it must pin with an exact value. */
  requireClaims: withoutProto('a provider or preset name')
    .pipe(z.record(z.string().min(1), z.array(z.string().min(1)).min(1)))
    .optional(),
  /** A grant offering a scope matching one of these globs must require approval. */
  requireApproval: z.strictObject({ scopes: z.array(GlobTextSchema).min(1) }).optional(),
})
export type GuardrailsConfig = z.output<typeof GuardrailsSchema>

// ---------------------------------------------------------------------------------------------------

const MatchSchema = withoutProto('a claim name')
  .pipe(z.record(z.string().min(1), MatcherSchema))
  .refine((m) => Object.keys(m).length > 0, { message: 'match needs at least one claim condition' })

/** `actor:` on a policy (RFC 8693 delegation): the actor token's provider and the claims it must match. */
export const ActorSchema = z.strictObject({ provider: NameSchema, match: MatchSchema })
export type ActorConfig = z.output<typeof ActorSchema>

export const PolicySchema = z.strictObject({
  name: NameSchema,
  description: z.string().optional(),
  provider: NameSchema,
  match: MatchSchema,
  grant: GrantSchema,
  actor: ActorSchema.optional(),
  /** Acknowledges a deliberately broad subject pattern (lint); the reason is recorded. */
  allowBroad: z.string().min(1).optional(),
  /** Exchanges per policy and subject, e.g. `30/m` (overrides `rateLimit.default`). */
  rateLimit: RateLimitSchema.optional(),
})
export type PolicyConfig = z.output<typeof PolicySchema>

export const ConfigSchema = z.strictObject({
  issuer: IssuerSchema,
  signing: SigningSchema.prefault({ key: { local: '.tessera/signing-key.json' } }),
  store: StoreSchema.default({ memory: {} }),
  nonce: z.strictObject({ rateLimit: z.number().int().min(1).max(100_000).default(120) }).prefault({}),
  providers: z.array(ProviderSchema).min(1),
  policies: z
    .array(PolicySchema, {
      error: (issue) =>
        issue.input !== undefined && !Array.isArray(issue.input)
          ? 'policies must be a list of policies, or { dir: <folder> } in a config file'
          : undefined,
    })
    .default([]),
  /** Limits for every policy without its own `rateLimit`; absent: no limit. */
  rateLimit: z.strictObject({ default: RateLimitSchema.optional() }).optional(),
  guardrails: GuardrailsSchema.optional(),
  /** GitHub Apps whose installation tokens `github` grants hand out. */
  github: GithubConfigSchema.optional(),
})
export type Config = z.output<typeof ConfigSchema>

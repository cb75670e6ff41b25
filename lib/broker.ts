import { createOidcVerifier } from './assertion/oidc.js'
import type { AssertionVerifier } from './assertion/types.js'
import { createMetrics, type Telemetry } from './audit/emf-metrics.js'
import { createLoggerAuditSink } from './audit/logger-sink.js'
import type { AuditSink } from './audit/types.js'
import { type CheckedConfig, formatPath } from './config/check.js'
import type { Config, ProviderConfig } from './config/schema.js'
import { type AnyMinter, type Minter, mintersByKind } from './credentials/minter.js'
import { createTokenMinter } from './credentials/token-minter.js'
import { ConfigError, PolicyCompileError } from './errors.js'
import { createGithubTokenRevoker, type GithubTokenRevoker } from './github/revoke-token.js'
import { UsageRecorder } from './inventory/usage.js'
import { createKeyRing } from './keys/keyring.js'
import type { KeyRing } from './keys/signer.js'
import { type CompiledPolicies, compilePolicies } from './policy/compile.js'
import { guardrailsNeedRegexEngine } from './policy/guardrails.js'
import { matcherNeedsRegexEngine } from './policy/matchers.js'
import { createRateLimiter, type RateLimiter } from './policy/rate-limit.js'
import { loadRegexEngine } from './policy/regex-engine.js'
import type { GrantKind } from './policy/types.js'
import { openStateTable } from './store/open-table.js'
import { ReplayGuard } from './store/replay-guard.js'
import { RevocationList } from './store/revocations.js'
import type { StateTable } from './store/types.js'

/** Everything an endpoint needs, built once per process (Lambda init or `tessera serve`). */
export interface Broker {
  readonly config: Config
  readonly issuer: string
  /** Verifiers by subject_token_type. */
  readonly verifiers: ReadonlyMap<string, AssertionVerifier>
  readonly policies: CompiledPolicies
  readonly keys: KeyRing
  readonly table: StateTable
  readonly audit: AuditSink
  /** Epoch milliseconds. */
  readonly now: () => number
  /** Minters by grant kind; a kind has one only when some policy grants it. */
  readonly minters: ReadonlyMap<GrantKind, Minter>
  /** Metrics (CloudWatch EMF through Powertools). */
  readonly metrics: Telemetry
  /** Revocations (kill switch): checked after the policy decision and by introspection. */
  readonly revocations: RevocationList
  /** Single use of subject tokens: the store's conditional write behind an in-process memory of consumed keys. */
  readonly replay: ReplayGuard
  /** Per-identity rate limits; absent when no policy is limited. */
  readonly rateLimiter?: RateLimiter | undefined
  /** Usage records for the inventory (aggregated in memory, flushed off the request path); absent when disabled. */
  readonly usage?: UsageRecorder | undefined
  /** Revokes GitHub installation tokens at GitHub (`/revoke token=ghs_…`); absent without github.apps. */
  readonly githubTokens?: GithubTokenRevoker | undefined
}

/** Injected dependencies; anything absent gets the production default. */
export interface BrokerOptions {
  readonly fetch?: typeof globalThis.fetch
  readonly now?: () => number
  readonly table?: StateTable
  readonly keys?: KeyRing
  readonly audit?: AuditSink
  /** Base folder for relative local key paths. */
  readonly baseDir?: string
  readonly onJwksFetch?: (issuer: string) => void
  readonly metrics?: Telemetry
  /** Record usage for `/inventory` (default true; benchmarks compare with it off). */
  readonly recordUsage?: boolean
}

/** Compiles policies, reporting every problem with its config location (path only without one). */
export function compileConfigPolicies(loaded: CheckedConfig): CompiledPolicies {
  try {
    return compilePolicies(loaded.config)
  } catch (err) {
    if (!(err instanceof AggregateError)) throw err
    const issues = err.errors.map((e) =>
      e instanceof PolicyCompileError
        ? `${loaded.locatePath?.(e.path) ?? `${loaded.file}: `}${formatPath(e.path)}: ${e.message}`
        : String(e),
    )
    throw new ConfigError(loaded.file, issues)
  }
}

/** Builds a Broker from a validated config (YAML or JSON). */
export async function createBroker(loaded: CheckedConfig, opts: BrokerOptions = {}): Promise<Broker> {
  const { config } = loaded
  const now = opts.now ?? Date.now
  // Lambda bundles load the regex engine on demand: only regexes and non-prefix globs need it.
  if (
    config.policies.some((p) => Object.values(p.match).some(matcherNeedsRegexEngine)) ||
    guardrailsNeedRegexEngine(config.guardrails)
  )
    await loadRegexEngine()
  const policies = compileConfigPolicies(loaded)
  const table = opts.table ?? openStateTable(config.store, { now })
  const audit = opts.audit ?? createLoggerAuditSink()
  const keys =
    opts.keys ?? (await createKeyRing(config.signing, opts.baseDir ? { baseDir: opts.baseDir } : {}))
  const fetch = opts.fetch ?? globalThis.fetch
  const verifiers = new Map<string, AssertionVerifier>()
  const add = (v: AssertionVerifier) => {
    for (const t of v.tokenTypes) verifiers.set(t, v)
  }
  const metrics = opts.metrics ?? createMetrics()
  const oidc = ofKind(config.providers, 'oidc')
  if (oidc.length > 0) {
    const onJwksFetch = (issuer: string) => {
      metrics.count('jwks_fetches')
      opts.onJwksFetch?.(issuer)
    }
    add(createOidcVerifier(oidc, { fetch, now, brokerIssuer: config.issuer, onJwksFetch }))
  }
  // Cloud kinds load on demand, so a function bundle only initialises the code its config uses.
  const iam = ofKind(config.providers, 'aws-iam')
  if (iam.length > 0) {
    const { createAwsIamVerifier } = await import('./assertion/aws-iam.js')
    add(createAwsIamVerifier(iam, { now }))
  }
  const ec2 = ofKind(config.providers, 'aws-ec2')
  if (ec2.length > 0) {
    const { createAwsEc2Verifier } = await import('./assertion/aws-ec2.js')
    add(createAwsEc2Verifier(ec2, { table, audit, now, awsIam: await presenceProofVerifier(ec2, now) }))
  }
  const azure = ofKind(config.providers, 'azure-imds')
  if (azure.length > 0) {
    const { createAzureImdsVerifier } = await import('./assertion/azure-imds.js')
    add(createAzureImdsVerifier(azure, { table, audit, now }))
  }
  const minters = await createMinters(config, keys, now, { fetch, audit, baseDir: opts.baseDir })
  const revocations = new RevocationList(table, { now })
  const replay = new ReplayGuard(table, { now })
  const rateLimiter = createRateLimiter(config, table)
  const usage =
    opts.recordUsage === false
      ? undefined
      : new UsageRecorder(table, { now, onError: () => metrics.count('store_errors', { source: 'usage' }) })
  usage?.start()
  const githubTokens = config.github ? createGithubTokenRevoker(config.github, { fetch, now }) : undefined
  return {
    config,
    issuer: config.issuer,
    verifiers,
    policies,
    keys,
    table,
    audit,
    now,
    metrics,
    minters,
    revocations,
    replay,
    rateLimiter,
    usage,
    githubTokens,
  }
}

/** One minter per grant kind some policy uses; cloud kinds load on demand, like the verifiers. */
async function createMinters(
  config: Config,
  keys: KeyRing,
  now: () => number,
  deps: { fetch: typeof globalThis.fetch; audit: AuditSink; baseDir: string | undefined },
): Promise<ReadonlyMap<GrantKind, Minter>> {
  const minters: AnyMinter[] = []
  if (config.policies.some((p) => p.grant.token))
    minters.push(createTokenMinter({ issuer: config.issuer, keys }))
  if (config.policies.some((p) => p.grant.aws))
    minters.push((await import('./credentials/aws.js')).createAwsMinter({ now }))
  if (config.github && config.policies.some((p) => p.grant.github)) {
    const { createGithubMinter } = await import('./credentials/github.js')
    const { fetch, audit, baseDir } = deps
    minters.push(createGithubMinter(config.github, { fetch, now, audit, keys: { baseDir } }))
  }
  return mintersByKind(minters)
}

/**
 * EC2 presence proof (`requireCallerIdentity`): the instance's signed GetCallerIdentity is checked by
 * an aws-iam verifier pinned to the EC2 providers' own accounts, so no separate provider is needed.
 */
async function presenceProofVerifier(
  ec2: readonly Extract<ProviderConfig, { kind: 'aws-ec2' }>[],
  now: () => number,
): Promise<AssertionVerifier | undefined> {
  const proof = ec2.filter((p) => p.binding.requireCallerIdentity)
  if (proof.length === 0) return undefined
  const { createAwsIamVerifier } = await import('./assertion/aws-iam.js')
  return createAwsIamVerifier(
    proof.map((p) => ({
      name: p.name,
      kind: 'aws-iam' as const,
      accounts: p.accounts,
      clockTolerance: p.clockTolerance,
      replay: 'once' as const,
      ...(p.serverIdHeader ? { serverIdHeader: p.serverIdHeader } : {}),
    })),
    { now },
  )
}

function ofKind<K extends ProviderConfig['kind']>(
  providers: readonly ProviderConfig[],
  kind: K,
): Extract<ProviderConfig, { kind: K }>[] {
  return providers.filter((p): p is Extract<ProviderConfig, { kind: K }> => p.kind === kind)
}

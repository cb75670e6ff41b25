import { createOidcVerifier } from './assertion/oidc.js'
import type { AssertionVerifier, VerifiedSubject } from './assertion/types.js'
import { createLoggerAuditSink } from './audit/logger-sink.js'
import type { AuditSink } from './audit/types.js'
import type { LoadedConfig } from './config/load.js'
import { formatPath, where } from './config/load.js'
import type { Config, ProviderConfig } from './config/schema.js'
import { ConfigError } from './errors.js'
import { createKeyRing } from './keys/keyring.js'
import type { KeyRing } from './keys/signer.js'
import { type CompiledPolicies, compilePolicies } from './policy/compile.js'
import { PolicyCompileError, type ResolvedGrant } from './policy/types.js'
import { MemoryTable } from './store/memory-table.js'
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
  /** Mints AWS credentials for `aws` grants (issue 5); absent when no policy has one. */
  readonly awsMinter?: AwsMinter | undefined
  /** Revocation list (issue 6); checked after the policy decision. */
  readonly revocations?: IssuanceGuard | undefined
}

/** The slice of the AWS credentials minter the exchange needs. */
export interface AwsMinter {
  mint(
    grant: Extract<ResolvedGrant, { kind: 'aws' }>,
    subject: VerifiedSubject,
    ctx: { policy: string; requestId: string },
  ): Promise<{ readonly expires_in: number } & Readonly<Record<string, unknown>>>
}

/** The slice of the revocation list the exchange needs. */
export interface IssuanceGuard {
  blocksIssuance(q: { provider: string; sub: string; policy: string }): Promise<boolean>
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
}

/** Compiles policies, reporting every problem with its config location. */
export function compileConfigPolicies(loaded: LoadedConfig): CompiledPolicies {
  try {
    return compilePolicies(loaded.config)
  } catch (err) {
    if (!(err instanceof AggregateError)) throw err
    const issues = err.errors.map((e) =>
      e instanceof PolicyCompileError
        ? `${where(loaded.file, loaded.doc, loaded.lineCounter, e.path)}${formatPath(e.path)}: ${e.message}`
        : String(e),
    )
    throw new ConfigError(loaded.file, issues)
  }
}

/** Builds a Broker from a validated config. */
export async function createBroker(loaded: LoadedConfig, opts: BrokerOptions = {}): Promise<Broker> {
  const { config } = loaded
  const now = opts.now ?? Date.now
  const policies = compileConfigPolicies(loaded)
  const table = opts.table ?? new MemoryTable(() => Math.floor(now() / 1000))
  const audit = opts.audit ?? createLoggerAuditSink()
  const keys =
    opts.keys ?? (await createKeyRing(config.signing, opts.baseDir ? { baseDir: opts.baseDir } : {}))
  const fetch = opts.fetch ?? globalThis.fetch
  const verifiers = new Map<string, AssertionVerifier>()
  const add = (v: AssertionVerifier) => {
    for (const t of v.tokenTypes) verifiers.set(t, v)
  }
  const oidc = ofKind(config.providers, 'oidc')
  if (oidc.length > 0) {
    add(
      createOidcVerifier(oidc, {
        fetch,
        now,
        brokerIssuer: config.issuer,
        ...(opts.onJwksFetch ? { onJwksFetch: opts.onJwksFetch } : {}),
      }),
    )
  }
  return { config, issuer: config.issuer, verifiers, policies, keys, table, audit, now }
}

function ofKind<K extends ProviderConfig['kind']>(
  providers: readonly ProviderConfig[],
  kind: K,
): Extract<ProviderConfig, { kind: K }>[] {
  return providers.filter((p): p is Extract<ProviderConfig, { kind: K }> => p.kind === kind)
}

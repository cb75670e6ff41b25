import { type Config, ConfigSchema } from '../../lib/config/schema.js'
import type { PolicyRequest } from '../../lib/policy/types.js'

/** A realistic config: two providers and the given raw policies, validated by the real schema. */
export function buildConfig(policies: unknown[]): Config {
  return ConfigSchema.parse({
    issuer: 'https://sts.example.com',
    providers: [
      { name: 'gha', kind: 'oidc', issuer: 'https://token.actions.githubusercontent.com' },
      { name: 'gitlab', kind: 'oidc', issuer: 'https://gitlab.example.com' },
    ],
    policies,
  })
}

/** A raw token policy for provider `gha`. */
export function tokenPolicy(
  name: string,
  match: Record<string, unknown>,
  audience: string | string[] = 'https://api.example.com',
  scopes: string[] = ['deploy:write'],
): unknown {
  return { name, provider: 'gha', match, grant: { token: { audience, scopes, ttl: '10m' } } }
}

/** A raw aws policy for provider `gha`. */
export function awsPolicy(name: string, match: Record<string, unknown>, roleArn: string): unknown {
  return { name, provider: 'gha', match, grant: { aws: { roleArn, duration: '15m' } } }
}

/** A request for provider `gha` with no target. */
export function request(claims: Record<string, unknown>, extra: Partial<PolicyRequest> = {}): PolicyRequest {
  return { provider: 'gha', claims, audiences: [], resources: [], ...extra }
}

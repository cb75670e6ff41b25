/**
 * Stand-in for @aws-sdk/credential-provider-node inside Lambda bundles (aliased by scripts/bundle.ts).
 * Lambda always hands the function its role credentials in environment variables, so the full
 * default chain (SSO, INI files, login, web identity, process, IMDS: ~90 KB with nested STS/SSO
 * clients) is dead weight at cold start. Container credentials are kept as the one fallback.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env'
import { fromContainerMetadata } from '@smithy/credential-provider-imds'

type Init = Parameters<typeof fromEnv>[0]

/** Environment credentials, else the container credentials endpoint; nothing else. */
export const defaultProvider = (init?: Init) => {
  const env = fromEnv(init)
  return async () => {
    if (process.env.AWS_ACCESS_KEY_ID) return env()
    return fromContainerMetadata({ timeout: 1000, maxRetries: 1 })()
  }
}

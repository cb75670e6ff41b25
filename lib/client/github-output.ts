import * as z from 'zod'

/**
 * Client-side formatting of a GitHub installation token response for `tessera exchange --format`:
 * `env` (GH_TOKEN / GITHUB_TOKEN export lines) and `git-credential` (git's credential-helper protocol).
 */

/**
 * The fields the formats need; checked before anything is printed: printable ASCII without quotes,
 * so a line break cannot inject a git attribute and a quote cannot end the shell quoting.
 */
export const GithubTokenOutputSchema = z.object({
  access_token: z.string().regex(/^gh[a-z]_[\x21\x23-\x26\x28-\x7e]{1,4096}$/),
  expires_in: z.number().int().positive().optional(),
})
export type GithubTokenOutput = z.output<typeof GithubTokenOutputSchema>

/** True when the broker answered with a GitHub token (rather than AWS credentials or a Tessera JWT). */
export function isGithubTokenOutput(body: unknown): boolean {
  return GithubTokenOutputSchema.safeParse(body).success
}

/** Checks a token response body before printing it; throws with a readable message when it is not a GitHub token. */
export function parseGithubTokenOutput(body: unknown): GithubTokenOutput {
  const parsed = GithubTokenOutputSchema.safeParse(body)
  if (!parsed.success) throw new Error('the broker did not answer with a GitHub token')
  return parsed.data
}

/** POSIX shell `export` lines for the GitHub CLI (GH_TOKEN) and most other tools (GITHUB_TOKEN). */
export function formatGithubEnv(body: GithubTokenOutput): string {
  // Single quotes keep `$` and backslashes literal; the schema refused any quote inside.
  const { access_token: token } = parseGithubTokenOutput(body)
  return `export GH_TOKEN='${token}'\nexport GITHUB_TOKEN='${token}'\n`
}

/**
 * git's credential-helper answer (`git credential` protocol): `username=x-access-token`,
 * `password=<token>`, and when the lifetime is known `password_expiry_utc` (git ≥ 2.41 then asks
 * again once the token has expired instead of retrying a dead one).
 */
export function formatGitCredential(body: GithubTokenOutput, nowMs: number = Date.now()): string {
  const { access_token: token, expires_in } = parseGithubTokenOutput(body)
  const lines = ['username=x-access-token', `password=${token}`]
  if (expires_in !== undefined) lines.push(`password_expiry_utc=${Math.floor(nowMs / 1000) + expires_in}`)
  return `${lines.join('\n')}\n`
}

/** git calls a credential helper with `get`, `store` or `erase`; only `get` asks for a credential. */
export const GIT_CREDENTIAL_ACTIONS = ['get', 'store', 'erase'] as const

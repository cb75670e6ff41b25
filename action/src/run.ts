import * as z from 'zod'
import { TokenTypes } from '../../lib/assertion/token-types.js'
import { parseAwsCredentialsOutput } from '../../lib/client/aws-output.js'
import { discoverEndpoint } from '../../lib/client/discover-endpoint.js'
import { requestExchange } from '../../lib/client/exchange.js'
import { ExchangeFailed } from '../../lib/errors.js'
import { requestIdToken } from './id-token.js'
import { type ActionInputs, type OutputKind, readInputs } from './inputs.js'
import { errorCommand, fileCommandEntry, maskCommand } from './workflow-commands.js'

/** What the action touches: injected so the flow reads the same in tests and on a runner. */
export interface ActionIo {
  readonly env: NodeJS.ProcessEnv
  /** Writes to the job log (stdout), where workflow commands are read. */
  readonly write: (text: string) => void
  readonly appendFile: (path: string, text: string) => void
  readonly fetch?: typeof globalThis.fetch | undefined
}

type RunnerFile = 'GITHUB_OUTPUT' | 'GITHUB_ENV'
interface Export {
  readonly name: string
  readonly value: string
}

/** Which runner file each output kind writes. */
const FILE_OF: Record<OutputKind, RunnerFile> = {
  token: 'GITHUB_OUTPUT',
  aws: 'GITHUB_ENV',
  github: 'GITHUB_ENV',
}

/** Members of a token response that are never secret; every other string member is masked. */
const PUBLIC_MEMBERS = new Set(['issued_token_type', 'token_type', 'scope', 'expiration', 'expires_in'])

const AccessTokenSchema = z.object({ access_token: z.string().min(1) })

/**
 * The action: job OIDC token → exchange at the broker → masked outputs. Every check runs before the
 * first write to GITHUB_OUTPUT/GITHUB_ENV, so a failure leaves them untouched. Returns the exit code.
 */
export async function runAction(io: ActionIo): Promise<number> {
  const fetchImpl = io.fetch ?? globalThis.fetch
  try {
    const inputs = readInputs(io.env)
    const target = runnerFile(io.env, FILE_OF[inputs.output])
    const idToken = await requestIdToken(io.env, inputs.url, fetchImpl)
    io.write(maskCommand(idToken))
    const body = await exchange(inputs, idToken, fetchImpl)
    for (const secret of secretsOf(body)) io.write(maskCommand(secret))
    const exports = exportsFor(inputs.output, body)
    io.appendFile(target, exports.map((e) => fileCommandEntry(e.name, e.value)).join(''))
    const expires = typeof body.expires_in === 'number' ? `, expires in ${body.expires_in} s` : ''
    io.write(`Tessera: ${exports.map((e) => e.name).join(', ')} set${expires}\n`)
    return 0
  } catch (err) {
    io.write(errorCommand(describeFailure(err)))
    return 1
  }
}

function runnerFile(env: NodeJS.ProcessEnv, name: RunnerFile): string {
  const path = env[name]
  if (!path)
    throw new ExchangeFailed(
      'runner_unsupported',
      `${name} is not set: run this action as a step of a GitHub Actions job`,
      0,
    )
  return path
}

async function exchange(
  inputs: ActionInputs,
  idToken: string,
  fetchImpl: typeof globalThis.fetch,
): Promise<Record<string, unknown>> {
  let endpoint: string
  try {
    endpoint = await discoverEndpoint(inputs.url, 'token_endpoint', fetchImpl)
  } catch (err) {
    throw new ExchangeFailed('discovery_failed', err instanceof Error ? err.message : String(err), 0)
  }
  try {
    return await requestExchange(
      endpoint,
      {
        subjectToken: idToken,
        subjectTokenType: TokenTypes.jwt,
        audiences: inputs.audience === undefined ? [] : [inputs.audience],
        resources: inputs.resource === undefined ? [] : [inputs.resource],
        scope: inputs.scope,
        requestedTokenType: inputs.output === 'aws' ? TokenTypes.awsCredentials : undefined,
      },
      fetchImpl,
    )
  } catch (err) {
    if (err instanceof ExchangeFailed) throw err
    throw new ExchangeFailed(
      'broker_unreachable',
      `${endpoint} did not answer (${(err as Error)?.name ?? 'error'})`,
      0,
    )
  }
}

/** Every string member of the response that is not known to be public (deny by default). */
function secretsOf(body: Record<string, unknown>): string[] {
  return Object.entries(body)
    .filter(([name, value]) => typeof value === 'string' && value !== '' && !PUBLIC_MEMBERS.has(name))
    .map(([, value]) => value as string)
}

function exportsFor(output: OutputKind, body: Record<string, unknown>): Export[] {
  if (output === 'aws') {
    let c: ReturnType<typeof parseAwsCredentialsOutput>
    try {
      c = parseAwsCredentialsOutput(body)
    } catch {
      throw new ExchangeFailed(
        'invalid_response',
        'the broker did not answer with AWS credentials (is resource an AWS role of an aws grant?)',
        0,
      )
    }
    return [
      { name: 'AWS_ACCESS_KEY_ID', value: c.aws_access_key_id },
      { name: 'AWS_SECRET_ACCESS_KEY', value: c.aws_secret_access_key },
      { name: 'AWS_SESSION_TOKEN', value: c.aws_session_token },
    ]
  }
  const parsed = AccessTokenSchema.safeParse(body)
  if (!parsed.success)
    throw new ExchangeFailed('invalid_response', 'the broker answered without an access_token', 0)
  return output === 'github'
    ? [{ name: 'GH_TOKEN', value: parsed.data.access_token }]
    : [{ name: 'token', value: parsed.data.access_token }]
}

/** `<error code>: <description>`, the form `tessera exchange` prints too. */
function describeFailure(err: unknown): string {
  if (err instanceof ExchangeFailed) return err.message
  return `action_failed: ${err instanceof Error ? err.message : String(err)}`
}

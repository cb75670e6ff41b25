import { IssuerSchema } from '../../lib/config/url.js'
import { ExchangeFailed } from '../../lib/errors.js'

export const OUTPUTS = ['token', 'aws', 'github'] as const
export type OutputKind = (typeof OUTPUTS)[number]

/** The action's inputs after validation. */
export interface ActionInputs {
  readonly url: string
  readonly audience?: string | undefined
  readonly resource?: string | undefined
  readonly scope?: string | undefined
  readonly output: OutputKind
}

/** The runner passes input `name` as the variable INPUT_NAME; an empty value means "not given". */
function input(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[`INPUT_${name.toUpperCase()}`]?.trim()
  return value === undefined || value === '' ? undefined : value
}

const invalid = (message: string) => new ExchangeFailed('invalid_input', message, 0)

/** Reads and checks the inputs; throws ExchangeFailed `invalid_input` naming the input at fault. */
export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const url = input(env, 'url')
  if (url === undefined) throw invalid('input url is required (the broker URL, its issuer)')
  const checked = IssuerSchema.safeParse(url)
  if (!checked.success) throw invalid(`input url: ${checked.error.issues[0]?.message ?? 'not a valid URL'}`)
  const audience = input(env, 'audience')
  const resource = input(env, 'resource')
  if ((audience === undefined) === (resource === undefined))
    throw invalid('give exactly one of the inputs audience and resource')
  const output = input(env, 'output') ?? 'token'
  if (!(OUTPUTS as readonly string[]).includes(output))
    throw invalid(`input output must be one of ${OUTPUTS.join(', ')}`)
  return { url, audience, resource, scope: input(env, 'scope'), output: output as OutputKind }
}

import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors.js'

/** Larger than any sane trust configuration; stops a wrong path (a log, a binary) being slurped. */
/** A config is a reviewed text file; anything larger is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * Where a Lambda's config lives: `TESSERA_CONFIG` (default `tessera.json`, written by scripts/bundle.ts); a relative path is
 * resolved next to the function's bundle — `$LAMBDA_TASK_ROOT/<dir of _HANDLER>` on Lambda
 * (scripts/bundle.ts puts it at dist/<fn>/tessera.yaml), else the directory of this module.
 */
export function lambdaConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.TESSERA_CONFIG?.trim() || 'tessera.json'
  if (isAbsolute(name)) return name
  const base =
    env.LAMBDA_TASK_ROOT && env._HANDLER
      ? join(env.LAMBDA_TASK_ROOT, dirname(env._HANDLER))
      : dirname(fileURLToPath(import.meta.url))
  return resolve(base, name)
}

/** Reads the bundled config file's text (parsing is the config loader's job); ConfigError if unreadable. */
export async function readLambdaConfigText(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ file: string; text: string }> {
  const file = lambdaConfigPath(env)
  try {
    const info = await stat(file)
    if (!info.isFile()) throw new ConfigError(file, ['is not a regular file'])
    if (info.size > MAX_CONFIG_BYTES)
      throw new ConfigError(file, [`is larger than ${MAX_CONFIG_BYTES} bytes`])
    return { file, text: await readFile(file, 'utf8') }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    const code = (err as { code?: string }).code ?? 'error'
    throw new ConfigError(file, [
      `cannot read the Lambda config (${code}); bundle one with scripts/bundle.ts --config <file> or set TESSERA_CONFIG`,
    ])
  }
}

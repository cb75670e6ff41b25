import type { FlagSpec } from './command.js'

/** The broker's base URL when `--url` and TESSERA_URL are both absent (serve's default). */
export const DEFAULT_BROKER_URL = 'http://127.0.0.1:8787'

/** `--url U`: the broker's base URL (its issuer); every client command names it the same way. */
export const URL_FLAG = {
  type: 'string',
  value: 'URL',
  help: `the broker base URL (default TESSERA_URL, else ${DEFAULT_BROKER_URL})`,
} as const satisfies FlagSpec

/** `--config F` / `-c F`: the config file; every command that reads one names it the same way. */
export const CONFIG_FLAG = {
  type: 'string',
  short: 'c',
  value: 'F',
  help: 'config file (default: the built-in example, as for tessera serve)',
} as const satisfies FlagSpec

/** `--admin-token T|@file|-`: a Tessera token holding the endpoint's admin scope. */
export const ADMIN_TOKEN_FLAG = {
  type: 'string',
  value: 'T|@file|-',
  help: 'a Tessera access token with the admin scope the call needs',
} as const satisfies FlagSpec

/** The broker base URL from `--url`, else TESSERA_URL, else the local default; no trailing slash. */
export function brokerUrl(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return (flag ?? env.TESSERA_URL ?? DEFAULT_BROKER_URL).replace(/\/+$/, '')
}

import { stringify } from 'yaml'
import { builtinConfigText } from '../config/builtin.js'
import { loadConfigFile, loadConfigText } from '../config/load.js'
import { defineCommand } from './command.js'
import { brokerUrl, CONFIG_FLAG, URL_FLAG } from './common-flags.js'

/** Keys whose values are credentials or could carry one (a webhook URL often embeds its secret). */
const SECRET_KEY = /secret|password|token|credential|webhook|private/i

/** A deep copy of `value` with every secret-looking member replaced by `***`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEY.test(k) && v !== undefined ? '***' : maskSecrets(v),
    ]),
  )
}

/** `tessera config show [--config F]`: the configuration the broker would run with. */
export const configShowCommand = defineCommand({
  name: 'config show',
  summary: 'print the effective config (preset defaults filled in, secrets masked)',
  synopsis: '[--config F] [--url U]',
  flags: {
    config: CONFIG_FLAG,
    url: { ...URL_FLAG, help: 'the broker URL the built-in example is printed for (default 127.0.0.1:8787)' },
  },
  examples: ['tessera config show', 'tessera config show --config tessera.yaml'],
  notes: 'Without --config this is the built-in example that tessera serve runs.',
  async run({ values }, io) {
    const loaded = values.config
      ? await loadConfigFile(values.config)
      : loadConfigText(builtinConfigText(brokerUrl(values.url, io.env)), 'built-in example')
    io.stdout.write(
      `# effective config of ${loaded.file}: defaults filled in, secrets masked\n${stringify(maskSecrets(loaded.config))}`,
    )
    return 0
  },
})

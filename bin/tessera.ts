import { createRoutes } from '../functions/routes.js'
import { runDevToken } from '../lib/cli/dev-token.js'
import { runDpopProof } from '../lib/cli/dpop-proof.js'
import { runExchange } from '../lib/cli/exchange.js'
import { runInstance } from '../lib/cli/instance.js'
import { lintStartupCheck, runPolicy } from '../lib/cli/policy.js'
import { runRevoke } from '../lib/cli/revoke.js'
import { runServe } from '../lib/cli/serve.js'
import { ConfigError, ExchangeFailed } from '../lib/errors.js'

const USAGE = `usage: tessera <command> [options]

  serve [--config F] [--port 8787] [--host 127.0.0.1] [--dev-issuer]
  dev-token --sub S [--claim k=v | k:=json]… [--aud A] [--url U] [--ttl 5m]
  policy lint [F] [--format human|json|github]
  policy explain [F] --token T|@file|- [--audience A]… [--resource R]… [--verify]
  policy test [F] [--tests PATH] [--format human|json|github]
  exchange [--url U] (--token T|@file|- | --aws-iam [--server-id ID] [--region R] | --instance aws|azure|gcp [--caller-identity])
           (--audience A | --resource R) [--scope S] [--format json|token|env|credential-process] [--dpop-key F]
  dpop-proof --key F --method M --url U [--token T|@file|-]
  instance list [--config F] [--json]
  instance reset <instance-id> [--config F]
  revoke --url U --admin-token T|@file (--token T | --sub S --provider P | --policy N) [--lift]
`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': {
      const { server } = await runServe(rest, { createRoutes, check: lintStartupCheck })
      const stop = () => void server.close().then(() => process.exit(0))
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      return -1
    }
    case 'policy':
      return await runPolicy(rest)
    case 'instance':
      return await runInstance(rest)
    case 'revoke':
      return await runRevoke(rest)
    case 'dev-token':
      process.stdout.write(`${await runDevToken(rest)}\n`)
      return 0
    case 'exchange':
      process.stdout.write(`${await runExchange(rest)}\n`)
      return 0
    case 'dpop-proof':
      process.stdout.write(`${await runDpopProof(rest)}\n`)
      return 0
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`tessera: unknown command "${command}"\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof ExchangeFailed) process.stderr.write(`${err.error}: ${err.description}\n`)
    else if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`)
    else process.stderr.write(`tessera: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)

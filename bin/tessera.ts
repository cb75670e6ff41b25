import { processIo, runCli } from '../lib/cli/command.js'
import { tesseraCommands } from '../lib/cli/commands.js'

// The AWS SDK warns on every Node below 22 that its future releases will need 22; a CLI user on a
// supported Node 20 can do nothing about it. Set it to false to see the warning again.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

// The Lambda handlers are loaded only by `serve`: importing them is most of the start-up time.
const loadRoutes = async () => (await import('../functions/routes.js')).createRoutes

process.exitCode = await runCli(tesseraCommands({ loadRoutes }), process.argv.slice(2), processIo())

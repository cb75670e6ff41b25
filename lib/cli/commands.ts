/**
 * Every `tessera` command, once. A new command is one spec (see command.ts) added to this list;
 * help, usage errors and exit codes come with it.
 */
import type { CommandSpec } from './command.js'
import { configShowCommand } from './config-show.js'
import { devTokenCommand } from './dev-token.js'
import { exchangeCommand } from './exchange.js'
import { instanceCommands } from './instance.js'
import { lintStartupCheck, policyExplainCommand, policyLintCommand } from './policy.js'
import { revokeCommand } from './revoke.js'
import { type RouteFactory, serveCommand } from './serve.js'

/** The command list; the routes come from functions/ (lib/ never imports the Lambda wiring). */
export function tesseraCommands(deps: { loadRoutes: () => Promise<RouteFactory> }): readonly CommandSpec[] {
  return [
    serveCommand({ loadRoutes: deps.loadRoutes, check: lintStartupCheck }),
    devTokenCommand,
    exchangeCommand,
    policyLintCommand,
    policyExplainCommand,
    ...instanceCommands(),
    revokeCommand,
    configShowCommand,
  ]
}

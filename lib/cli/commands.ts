/**
 * Every `tessera` command, once. A new command is one spec (see command.ts) in its own module and
 * one entry here; help, usage errors and exit codes come with it. Modules load on use.
 */
import type { CommandEntry } from './command.js'
import type { RouteFactory } from './serve.js'

/** The command list; the routes come from functions/ (lib/ never imports the Lambda wiring). */
export function tesseraCommands(deps: { loadRoutes: () => Promise<RouteFactory> }): readonly CommandEntry[] {
  return [
    {
      name: 'serve',
      load: async () => {
        const [{ serveCommand }, { lintStartupCheck }] = await Promise.all([
          import('./serve.js'),
          import('./policy.js'),
        ])
        return serveCommand({ loadRoutes: deps.loadRoutes, check: lintStartupCheck })
      },
    },
    { name: 'dev-token', load: async () => (await import('./dev-token.js')).devTokenCommand },
    { name: 'exchange', load: async () => (await import('./exchange.js')).exchangeCommand },
    { name: 'policy lint', load: async () => (await import('./policy.js')).policyLintCommand },
    { name: 'policy explain', load: async () => (await import('./policy.js')).policyExplainCommand },
    { name: 'policy test', load: async () => (await import('./policy.js')).policyTestCommand },
    { name: 'dpop-proof', load: async () => (await import('./dpop-proof.js')).dpopProofCommand },
    { name: 'instance list', load: async () => (await import('./instance.js')).instanceCommands()[0] },
    { name: 'instance reset', load: async () => (await import('./instance.js')).instanceCommands()[1] },
    { name: 'revoke', load: async () => (await import('./revoke.js')).revokeCommand },
    { name: 'config show', load: async () => (await import('./config-show.js')).configShowCommand },
    { name: 'approvals list', load: async () => (await import('./approvals.js')).approvalsCommands()[0]! },
    { name: 'approvals approve', load: async () => (await import('./approvals.js')).approvalsCommands()[1]! },
    { name: 'approvals deny', load: async () => (await import('./approvals.js')).approvalsCommands()[2]! },
    { name: 'inventory', load: async () => (await import('./inventory.js')).inventoryCommand },
    { name: 'audit query', load: async () => (await import('./audit-query.js')).auditQueryCommand },
  ]
}

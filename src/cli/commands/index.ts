/**
 * The `hourglass` client commands: thin wrappers over the REST API (api-client.ts) with human
 * output (format.ts) or the API's JSON (`--json`), and exit codes that scripts can rely on
 * (docs/cli.md); plus the offline commands (`policy validate|test`, `policy explain --config`),
 * `login`/`logout` and shell completion. One module per command group; this one registers them
 * in the order `hourglass --help` lists them.
 */
import { Argument, type Command } from 'commander';
import { registerAccessCommands } from './access.js';
import { registerAdminCommands } from './admin.js';
import { registerAgentCommands } from './agent.js';
import { registerAuditCommands } from './audit.js';
import { registerEmergencyCommands } from './emergency.js';
import { registerGrantCommands } from './grants.js';
import { registerNotificationCommands } from './notifications.js';
import { registerPolicyCommands } from './policy.js';
import { registerRequestCommands } from './requests.js';
import { registerSessionCommands } from './session.js';
import { action, createRegistrar, DEFAULT_URL, offlineModule, type CliContext } from './shared.js';

export { parseStartAt } from './args.js';
export { describeError, EXIT, exitCodeFor, TESTS_FAILED } from './failure.js';
export { DEFAULT_URL, type CliContext } from './shared.js';

export function registerClientCommands(program: Command, ctx: CliContext): void {
  const r = createRegistrar(program, ctx);
  const { local } = r;
  registerSessionCommands(r);
  registerRequestCommands(r);
  registerAccessCommands(r);
  registerGrantCommands(r);
  registerAuditCommands(r);
  registerNotificationCommands(r);
  registerEmergencyCommands(r);
  registerAdminCommands(r);
  registerAgentCommands(r);
  registerPolicyCommands(r);

  // ---- shell completion
  local('completion', 'print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      '\nLoad it in the current shell, or install it:\n  source <(hourglass completion bash)      # add to ~/.bashrc\n  source <(hourglass completion zsh)       # add to ~/.zshrc (after compinit)\n' +
        '  hourglass completion zsh > "${fpath[1]}/_hourglass"\n',
    )
    .action(
      action(ctx, async (io, _o, shell: string) => {
        const { bashCompletion, zshCompletion } = await offlineModule();
        const script = shell === 'zsh' ? zshCompletion(program) : bashCompletion(program);
        io.print({ shell, script }, () => script);
      }),
    );

  // --url/--token/--json are added last so that their group follows each command's own options.
  r.finish();

  program.addHelpText(
    'after',
    `\nClient commands take --url (default $HOURGLASS_URL, then the stored login, else ${DEFAULT_URL}), --token (default $HOURGLASS_TOKEN, then the stored login) and --json.\n` +
      'Exit codes: 0 ok, 1 internal (policy test: a test failed), 2 usage/invalid input, 3 unauthenticated/forbidden, 4 not found,\n' +
      '5 conflict, 6 refused by policy, 7 unavailable/unreachable, 8 check: not allowed, 9 request --wait: not active,\n' +
      "10 audit verify: chain broken; connect: the client's own code once it runs, 127 if it is not installed. See docs/cli.md.\n",
  );
}

/**
 * The composition root and the `hourglass` command. The only module that reads process.env:
 * everything else receives what it needs.
 */
import { Command, CommanderError } from 'commander';
import { registerClientCommands } from './cli/commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const env = { ...process.env };
  let code = 0;
  const program = new Command('hourglass')
    .description('Hourglass: just-in-time privileged access')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  program
    .command('serve')
    .description('run the Hourglass server')
    .option('-c, --config <file>', 'configuration file (default: $HOURGLASS_CONFIG)')
    .action(async (opts: { config?: string }) => {
      // Loaded on demand so client commands do not pay for the server's modules.
      const { serveCommand } = await import('./cli/serve.js');
      code = await serveCommand(opts, env);
    });

  registerClientCommands(program, {
    env,
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    setExitCode: (c) => {
      code = c;
    },
  });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}

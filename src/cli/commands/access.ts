/**
 * `hourglass credentials` and `connect`: the credentials of an active grant (every retrieval is
 * audited), printed or handed to the target's client; the command lines come from src/cli/connect.ts.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Option } from 'commander';
import type { CredentialsJson } from '../api-client.js';
import {
  caPemOf,
  clientCommands,
  clientEnv,
  commandJson,
  describeCommand,
  findProgram,
  runClient,
  writeCaFile,
  type ClientCommands,
  type ClientKind,
  type TargetCredentials,
} from '../connect.js';
import { NoSuchCredentials, UsageError } from '../errors.js';
import * as fmt from '../format.js';
import { EXIT } from './failure.js';
import { sshLogin } from '../ssh-login.js';
import { action, addStepUp, type Io, type Registrar } from './shared.js';

/**
 * The targets of `creds` the command is about: the one named by --target, or all of them; with
 * `one`, exactly one (the only one, or the one named).
 */
function pickTargets(creds: CredentialsJson, target: string | undefined, one: string | false): [string, TargetCredentials][] {
  const all = Object.entries(creds.targets);
  if (target !== undefined) {
    const found = creds.targets[target];
    if (!found) {
      throw new NoSuchCredentials(
        all.length
          ? `request ${creds.requestId} has no credentials for target ${target} (it has: ${all.map(([n]) => n).join(', ')})`
          : `request ${creds.requestId} has no credentials for target ${target} (its targets issue none)`,
      );
    }
    return [[target, found]];
  }
  if (one && all.length === 0) throw new NoSuchCredentials(`request ${creds.requestId} has no credentials: its targets issue none`);
  if (one && all.length > 1)
    throw new UsageError(
      `request ${creds.requestId} has credentials for ${all.length} targets (${all.map(([n]) => n).join(', ')}): ${one} needs --target NAME`,
    );
  return all;
}

interface ConnectOptions {
  target?: string;
  extra: string[];
  print: boolean;
  client?: string;
}

/** The clients of this build's target kinds; loaded on demand, like the offline commands. */
async function kindClients(): Promise<ClientCommands> {
  return clientCommands((await import('../../adapters/connectors/index.js')).connectorFactories);
}

/** The client program to run, found on PATH, in the kind's order of preference (mariadb, else mysql). */
function resolveClient(
  io: Io,
  cc: ClientCommands,
  kind: ClientKind,
  wanted: string | undefined,
): { program: string; file: string | undefined; flavor?: 'mariadb' | 'mysql' } {
  const names = wanted !== undefined ? [wanted] : cc.client(kind).programs;
  for (const name of names) {
    const file = findProgram(name, io.env.PATH);
    if (!file) continue;
    const flavor =
      wanted === undefined
        ? cc.client(kind).flavorOf?.(name, () => execFileSync(file, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }))
        : undefined;
    return { program: name, file, ...(flavor ? { flavor } : {}) };
  }
  return { program: names[0]!, file: undefined };
}

/**
 * `hourglass connect`: fetches the credentials (an audited retrieval) and runs the target's
 * client with them, the password in its environment only; returns the client's exit code.
 */
export async function connectTo(io: Io, id: string, o: ConnectOptions): Promise<number> {
  const creds = await io.client.credentials(id);
  for (const c of Object.values(creds.targets)) io.addSecret(typeof c.password === 'string' ? c.password : undefined);
  const [[name, c]] = pickTargets(creds, o.target, 'connect') as [[string, TargetCredentials]];
  const cc = await kindClients();
  const kind = cc.requireKind(name, c);
  const resolved = resolveClient(io, cc, kind, o.client);
  const ca = caPemOf(c);
  const caFile = ca ? (o.print ? path.join(tmpdir(), 'hourglass-ca-XXXXXX', 'ca.pem') : undefined) : undefined;
  const build = (file?: string) =>
    cc.buildClientCommand(name, c, o.extra, {
      program: resolved.program,
      ...(resolved.flavor ? { flavor: resolved.flavor } : {}),
      ...(file ? { caFile: file } : {}),
    });
  if (o.print) {
    const cmd = build(caFile);
    io.print(commandJson(name, cmd), () => `${describeCommand(cmd, io.env)}\n`);
    if (!resolved.file) io.err(`note: ${resolved.program} is not installed here (not found on PATH)\n`);
    return EXIT.OK;
  }
  if (!resolved.file) {
    const tried = o.client !== undefined ? o.client : cc.client(kind).programs.join(' or ');
    io.err(
      `hourglass: cannot connect to ${name}: ${tried} is not installed (not found on PATH)\n` +
        `hint: install it (Debian: ${cc.client(kind).debianPackage}), or name another client with --client PROGRAM\n`,
    );
    return EXIT.CLIENT_NOT_FOUND;
  }
  const caTemp = ca ? writeCaFile(ca) : undefined;
  try {
    const cmd = build(caTemp?.file);
    const user = cc.partsOf(c, kind).username;
    io.err(`connecting to ${name}${user ? ` as ${user}` : ''} with ${resolved.program}; access ends ${fmt.when(creds.expiresAt)}\n`);
    const { code, startError } = await runClient(resolved.file, cmd.args, clientEnv(io.env, cmd));
    if (startError)
      io.err(
        `hourglass: cannot run ${resolved.file}: ${startError.message}\nhint: check that it is an executable program, or name another client with --client PROGRAM\n`,
      );
    return code;
  } finally {
    caTemp?.remove();
  }
}

export function registerAccessCommands({ ctx, client }: Registrar): void {
  addStepUp(client('credentials', 'print the credentials of your active grant, password included (every retrieval is audited)'))
    .argument('<id>', 'request id')
    .option('--target <name>', 'only the credentials for this target')
    .addOption(
      new Option('--format <format>', 'text (a block per target), env (export lines for eval) or url (the connection URL)').choices(['text', 'env', 'url']),
    )
    .addHelpText(
      'after',
      '\nThe requester only, only while the grant is active (exit 5 before and after; 4 for a request that is not yours).\n' +
        'Examples:\n  hourglass credentials req_01...\n  eval "$(hourglass credentials req_01... --format env)" && psql\n' +
        '  hourglass credentials req_01... --target cache --format url\n',
    )
    .action(
      action(
        ctx,
        async (io, o, id: string) => {
          const format = (o.format as 'text' | 'env' | 'url' | undefined) ?? 'text';
          if (io.json && format !== 'text') throw new UsageError(`--json and --format ${format} are two different outputs: choose one`);
          const creds = await io.client.credentials(id);
          if (format !== 'text') {
            const [[name, c]] = pickTargets(creds, o.target as string | undefined, `--format ${format}`) as [[string, TargetCredentials]];
            if (format === 'env') {
              io.out((await kindClients()).envLines(c));
              return;
            }
            if (typeof c.url !== 'string') throw new NoSuchCredentials(`the credentials of target ${name} carry no connection URL`);
            io.out(`${c.url}\n`);
            return;
          }
          const view: CredentialsJson = { ...creds, targets: Object.fromEntries(pickTargets(creds, o.target as string | undefined, false)) };
          const cc = await kindClients();
          const kinds = Object.fromEntries(Object.entries(view.targets).map(([n, c]) => [n, cc.kindOf(c)]));
          io.print(view, () => fmt.credentialsLines(view, kinds));
        },
        { idArg: true },
      ),
    );

  addStepUp(client('connect', "open the target's client (psql, mariadb, redis-cli) with the credentials of your active grant"))
    .argument('<id>', 'request id')
    .argument('[client-args...]', "the client's own arguments, after -- (e.g. -- -c 'SELECT 1')")
    .option('--target <name>', 'the target to connect to (needed when the grant has credentials for several)')
    .option('--client <program>', 'run this program instead of psql / mariadb (else mysql) / redis-cli, with the same arguments and environment')
    .option('--print', 'print the command it would run (the password as ***) instead of running it')
    .showHelpAfterError("(the client's own arguments go after --: hourglass connect ID -- -c 'SELECT 1')")
    .addHelpText(
      'after',
      '\nThe client is chosen by the URL scheme of the credentials: postgres:// psql, mysql:// mariadb (else mysql),\n' +
        'redis:// and rediss:// redis-cli. The password goes in its environment (PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH),\n' +
        "never on its command line. Exit: the client's own exit code once it runs; 127 if it is not installed;\n" +
        "before that, hourglass's codes (5: the grant is not active, 4: not your request or no such target).\n" +
        "Examples:\n  hourglass connect req_01...\n  hourglass connect req_01... -- -c 'SELECT 1'\n  hourglass connect req_01... --target cache -- PING\n",
    )
    .action(
      action(
        ctx,
        async (io, o, id: string, extra: string[]) => {
          if (io.json && !o.print) throw new UsageError('--json goes with --print (the client writes its own output)');
          return connectTo(io, id, {
            extra: extra ?? [],
            print: Boolean(o.print),
            ...(o.target !== undefined ? { target: o.target as string } : {}),
            ...(o.client !== undefined ? { client: o.client as string } : {}),
          });
        },
        { idArg: true },
      ),
    );

  addStepUp(client('ssh', 'log in over ssh with a certificate of your active grant (an ssh target)'))
    .argument('<id>', 'request id')
    .argument('<ssh-args...>', "ssh's arguments: [user@]host, its options and a remote command")
    .option('--target <name>', 'the ssh target, when the request has several')
    .option('--no-agent', 'never load the key into ssh-agent: use a temporary key file for this login')
    .showHelpAfterError("(ssh's own options go after --: hourglass ssh ID -- -p 2222 root@host)")
    .addHelpText(
      'after',
      '\nMakes a fresh Ed25519 key in memory, has the target certify it, and loads both into the running ssh-agent\n' +
        '(ssh-add -t, ending with the certificate), or without an agent writes them to a private temporary directory\n' +
        "removed when ssh exits; then runs ssh. Exit: ssh's own code; 127 if ssh is not installed.\n" +
        'Examples:\n  hourglass ssh req_01... root@web-1\n  hourglass ssh req_01... -- -p 2222 deploy@10.0.0.5 uptime\n',
    )
    .action(
      action(
        ctx,
        async (io, o, id: string, sshArgs: string[]) => {
          if (io.json) throw new UsageError('ssh writes its own output: --json does not apply');
          return sshLogin(io.client, id, {
            sshArgs,
            env: io.env,
            say: io.err,
            ...(o.target !== undefined ? { target: o.target as string } : {}),
            ...(o.agent === false ? { noAgent: true } : {}),
          });
        },
        { idArg: true },
      ),
    );
}

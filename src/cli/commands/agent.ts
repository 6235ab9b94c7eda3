/** `hourglass agent`: the host agent (src/agent/), run under systemd on each host (docs/agent.md). */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Option } from 'commander';
import { runAgent } from '../../agent/agent.js';
import { SshDuty } from '../../agent/ssh-duty.js';
import { HourglassClient } from '../api-client.js';
import { UsageError } from '../errors.js';
import { action, checkToken, type Registrar } from './shared.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerAgentCommands({ ctx, client }: Registrar): void {
  client('agent', "keep this host's sshd in step with Hourglass: CA key and revocation list (role agent)")
    .requiredOption('--ssh-target <name>', 'ssh target whose CA this host trusts (repeat for several; then give --dir)', collect)
    .option('--ca-file <path>', "sshd's TrustedUserCAKeys file", '/etc/ssh/hourglass_user_ca.pub')
    .option('--krl-file <path>', "sshd's RevokedKeys file", '/etc/ssh/hourglass_revoked.krl')
    .option('--dir <path>', 'with several targets: write TARGET.pub and TARGET.krl here instead')
    .option('--host <name>', 'the name this host reports under (default: the host name)')
    .option('--wait <seconds>', 'long-poll wait for a changed revocation list (1-60)', '25')
    .option('--token-file <path>', 'read the API token from this file (systemd LoadCredential=); default $HOURGLASS_TOKEN')
    .addOption(new Option('--once', 'fetch once and exit (the exit code says whether it worked)'))
    .addHelpText(
      'after',
      '\nWrites each file atomically (temporary file, fsync, rename) and never replaces a good file with a bad download;\n' +
        'reports the version it applied, which `GET /v1/targets/NAME/ssh/hosts` shows. See docs/agent.md for the systemd unit.\n',
    )
    .action(
      action(ctx, async (io, o) => {
        const targets = o.sshTarget as string[];
        if (targets.length > 1 && !o.dir) throw new UsageError('several --ssh-target need --dir (one CA and list file per target)');
        const wait = Number(o.wait);
        if (!Number.isInteger(wait) || wait < 1 || wait > 60) throw new UsageError('--wait must be a whole number of seconds from 1 to 60');
        const host = (o.host as string | undefined) ?? hostname();
        let api = io.client;
        if (o.tokenFile) {
          const token = checkToken(readFileSync(o.tokenFile as string, 'utf8').trim());
          io.addSecret(token);
          api = new HourglassClient({ url: io.client.url, token, userAgent: 'hourglass-agent/0.1.0' });
        }
        const log = { info: (m: string) => io.err(`hourglass agent: ${m}\n`), warn: (m: string) => io.err(`hourglass agent: warning: ${m}\n`) };
        const duties = targets.map(
          (target) =>
            new SshDuty(
              api,
              {
                target,
                caFile: o.dir ? `${o.dir}/${target}.pub` : (o.caFile as string),
                krlFile: o.dir ? `${o.dir}/${target}.krl` : (o.krlFile as string),
                host,
                waitSeconds: o.once ? 0 : wait,
                caEveryMs: 5 * 60_000,
              },
              log,
            ),
        );
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        try {
          if (!o.once) log.info(`started for ${targets.join(', ')} as host ${host}`);
          await runAgent(duties, { signal: stop.signal, log, once: o.once === true });
          io.print({ host, applied: Object.fromEntries(duties.map((d, i) => [targets[i], d.appliedVersion ?? null])) }, () =>
            duties.map((d, i) => `${targets[i]}: revocation list version ${d.appliedVersion ?? 'none'} in place\n`).join(''),
          );
        } finally {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
      }),
    );
}

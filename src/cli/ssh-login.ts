/**
 * `hourglass ssh`: log in with a certificate of an active grant and leave nothing long-lived
 * behind. A fresh Ed25519 key pair is made in memory, its public half certified by the ssh
 * target, and then either loaded into the running ssh-agent with a lifetime that ends with the
 * certificate (`ssh-add -t`), or, with no agent, written to a private temporary directory for
 * this one `ssh` and removed when it exits.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateEd25519, openSshPrivateKey } from '../adapters/connectors/ssh/private-key.js';
import { publicKeyLine } from '../adapters/connectors/ssh/public-key.js';
import type { HourglassClient } from './api-client.js';
import { runClient } from './connect.js';
import { NoSuchCredentials, UsageError } from './errors.js';

export interface SshLoginOptions {
  /** The ssh target, when the request has several. */
  target?: string;
  /** Never use the ssh-agent, even when one runs. */
  noAgent?: boolean;
  /** `ssh`'s arguments: the destination, its options and the remote command. */
  sshArgs: string[];
  env: Record<string, string | undefined>;
  say: (line: string) => void;
  now?: () => number;
}

interface IssuedCertificate {
  entitlement: string;
  certificate: string;
  validBefore: string;
  principals: string[];
  serial: number;
}

/** The certificates the request's ssh target issued for `publicKey`. */
async function certify(client: HourglassClient, id: string, publicKey: string, target: string | undefined) {
  const creds = await client.credentials(id, { publicKey, ...(target ? { target } : {}) });
  const ssh = Object.entries(creds.targets).filter(([, c]) => (c as { kind?: unknown }).kind === 'ssh');
  if (ssh.length === 0) throw new NoSuchCredentials(`request ${id} has no ssh target`);
  if (ssh.length > 1) throw new UsageError(`request ${id} has ${ssh.length} ssh targets (${ssh.map(([n]) => n).join(', ')}): give --target NAME`);
  const [name, entry] = ssh[0]!;
  return { name, certificates: (entry as unknown as { credentials: IssuedCertificate[] }).credentials };
}

/** A 0700 directory for the key: in $XDG_RUNTIME_DIR (memory, this user only) when there is one. */
function privateDir(env: SshLoginOptions['env']): string {
  const base = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : tmpdir();
  return mkdtempSync(path.join(base, 'hourglass-ssh-'));
}

/** ssh on this terminal: Ctrl-C is ssh's, SIGTERM and SIGHUP are passed on, so the key files are always removed after it. */
async function runSsh(args: string[], env: SshLoginOptions['env']): Promise<number> {
  return (await runClient('ssh', args, env as NodeJS.ProcessEnv)).code;
}

export async function sshLogin(client: HourglassClient, id: string, o: SshLoginOptions): Promise<number> {
  if (o.sshArgs.length === 0) throw new UsageError('give the host to log in to: hourglass ssh ID [user@]host [ssh args]');
  const key = generateEd25519();
  const { name, certificates } = await certify(client, id, publicKeyLine(key.publicBlob, 'hourglass-ephemeral'), o.target);
  const now = (o.now ?? Date.now)();
  const lifetime = Math.floor((Math.min(...certificates.map((c) => Date.parse(c.validBefore))) - now) / 1000);
  if (lifetime < 1) throw new UsageError(`the certificate from ${name} ends within a second: nothing to log in with`);
  const dir = privateDir(o.env);
  try {
    const files = certificates.map((c, i) => {
      const file = path.join(dir, `id_${i}`);
      writeFileSync(file, openSshPrivateKey(key, `hourglass ${id}`), { mode: 0o600 });
      writeFileSync(`${file}-cert.pub`, `${c.certificate}\n`, { mode: 0o600 });
      return file;
    });
    const principals = [...new Set(certificates.flatMap((c) => c.principals))].join(', ');
    if (!o.noAgent && o.env.SSH_AUTH_SOCK) {
      const added = files.every(
        (f) => spawnSync('ssh-add', ['-q', '-t', String(lifetime), f], { stdio: ['ignore', 'ignore', 'pipe'], env: o.env as NodeJS.ProcessEnv }).status === 0,
      );
      if (added) {
        // The agent holds them now, until the certificate ends: nothing stays on disk.
        rmSync(dir, { recursive: true, force: true });
        o.say(`hourglass: certificate for ${principals} loaded into ssh-agent for ${lifetime} s (target ${name})\n`);
        return await runSsh(o.sshArgs, o.env);
      }
      o.say('hourglass: ssh-add failed; using a temporary key file for this login instead\n');
    }
    const identity = files.flatMap((f) => ['-i', f, '-o', `CertificateFile=${f}-cert.pub`]);
    o.say(`hourglass: certificate for ${principals}, valid ${lifetime} s (target ${name})\n`);
    return await runSsh(['-o', 'IdentitiesOnly=yes', ...identity, ...o.sshArgs], o.env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

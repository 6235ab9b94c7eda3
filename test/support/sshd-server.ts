// Starts a throwaway OpenSSH sshd for tests: its own temp directory, a free loopback port, a
// fresh host key, and only certificate logins: TrustedUserCAKeys and RevokedKeys point at files
// in the directory that tests (and `hourglass agent`) write, AuthorizedKeysFile is none and
// passwords are off. Logins are as the user running the tests (root here: PermitRootLogin
// prohibit-password). Never skips: a missing sshd is a loud error.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, keepLogTail, portAcceptsConnections, SETPRIV, shutDown, sleep, track, watchExit } from './server-process.js';

const execFileP = promisify(execFile);
const SSHD = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'].find((p) => existsSync(p));
const START_TIMEOUT_MS = 10_000;

export interface SshdServer {
  port: number;
  dir: string;
  /** The login name certificates must name. */
  user: string;
  /** sshd's TrustedUserCAKeys. */
  caFile: string;
  /** sshd's RevokedKeys (starts as an empty KRL: a missing one would refuse every key). */
  krlFile: string;
  /** What sshd logged (VERBOSE: the key ID and serial of each accepted certificate). */
  log(): string;
  stop(): Promise<void>;
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function findSshd(): string {
  if (!SSHD) throw new Error('sshd not found: the ssh tests need OpenSSH: run `bash scripts/install-test-deps.sh` (Debian "openssh-server").');
  return SSHD;
}

export async function startSshd(opts: { caPublicKey: string }): Promise<SshdServer> {
  const binary = findSshd();
  // The privilege-separation directory sshd insists on.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-sshd-'));
  const hostKey = path.join(dir, 'host_ed25519');
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const caFile = path.join(dir, 'trusted_ca.pub');
  const krlFile = path.join(dir, 'revoked.krl');
  await writeFile(caFile, opts.caPublicKey);
  await execFileP('ssh-keygen', ['-k', '-f', krlFile]);
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `TrustedUserCAKeys ${caFile}`,
      `RevokedKeys ${krlFile}`,
      'AuthorizedKeysFile none',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const args = ['-D', '-e', '-f', config];
  const child: ChildProcess = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig=SIGKILL', '--', binary, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child, dir, 'SIGTERM');
  const log = keepLogTail(child, 400);
  const ended = watchExit(child);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (ended.spawnError) throw new Error(`could not spawn sshd: ${ended.spawnError.message}`);
    if (ended.exited) throw new Error(`sshd exited during start-up (code ${ended.exited.code}).\n--- log ---\n${log()}`);
    if (await portAcceptsConnections(port)) break;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s\n${log()}`);
    await sleep(25);
  }
  return { port, dir, user: os.userInfo().username, caFile, krlFile, log, stop: () => shutDown(child, dir, 'SIGTERM', 5_000) };
}

/** Runs `ssh` with one identity (key file, certificate beside it) against the test server. */
export function sshLogin(server: SshdServer, keyFile: string, certFile: string, command = 'echo hourglass-ok', user = server.user): Promise<SshResult> {
  const args = [
    '-F',
    '/dev/null',
    '-i',
    keyFile,
    '-o',
    `CertificateFile=${certFile}`,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(server.port),
    `${user}@127.0.0.1`,
    command,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 255, stdout, stderr });
    });
  });
}

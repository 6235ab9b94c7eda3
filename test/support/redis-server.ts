// Starts a throwaway Redis server for tests: its own temp directory, a free loopback port,
// nothing persisted (`save ""`, no AOF), ACL users from an aclfile where the `default` user is
// disabled, `hourglass` holds only what the redis connector needs (REDIS_ADMIN_ACL_RULES) and
// `root` may do everything (tests seed keys and watch with it). Passwords go into the aclfile
// as SHA-256 hashes only. With `tls: true` the server listens with TLS only, with a throwaway CA.
// Never skips: a missing redis-server (or openssl, for TLS) is a loud error.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { REDIS_ADMIN_ACL_RULES } from '../../src/adapters/connectors/redis/index.js';
import { freePort, keepLogTail, SETPRIV, shutDown, sleep, track, watchExit } from './server-process.js';

const execFileP = promisify(execFile);

const REDIS_SERVER_CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export const REDIS_ADMIN_USER = 'hourglass';
export const REDIS_ROOT_USER = 'root';

export interface RedisServer {
  /** redis://hourglass:<pw>@127.0.0.1:<port> (rediss:// with tls): the least-privilege admin. */
  url: string;
  /** Same server as `root`, a user that may do everything (seeding keys, MONITOR, ACL LOAD). */
  rootUrl: string;
  host: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  rootPassword: string;
  /** The CA certificate (PEM) the server's certificate is signed by; only with tls. */
  caPem?: string;
  /** Temp directory with redis.conf, users.acl (and certificates); removed by stop(). */
  dir: string;
  aclFile: string;
  pid: number;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Listen with TLS only (tls-port), certificate for 127.0.0.1 and localhost. */
  tls?: boolean;
}

/** The redis-server binary, or a loud error telling how to install it. */
export function findRedisServer(candidates: string[] = REDIS_SERVER_CANDIDATES): string {
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `redis-server not found (looked in ${candidates.join(', ')}). Tests that need Redis cannot run ` +
        'without it: run `bash scripts/install-test-deps.sh` (installs the Debian "redis-server" package).',
    );
  }
  return found;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The aclfile: `default` off, the admin with exactly the connector's rules, and root. */
export function aclFileText(adminPassword: string, rootPassword: string): string {
  return [
    'user default off resetpass resetkeys resetchannels -@all',
    `user ${REDIS_ADMIN_USER} on #${sha256(adminPassword)} ${REDIS_ADMIN_ACL_RULES}`,
    `user ${REDIS_ROOT_USER} on #${sha256(rootPassword)} ~* &* +@all`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Servers still running when the process exits are killed ('exit' handlers are synchronous).

// ---------------------------------------------------------------------------
// TLS: a throwaway CA and a server certificate for 127.0.0.1 / localhost.

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('openssl not found: the TLS Redis test server needs it to make certificates. Install the Debian "openssl" package.');
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=hourglass-test-ca'], dir);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'],
    dir,
  );
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

// ---------------------------------------------------------------------------

interface Running {
  child: ChildProcess;
  port: number;
}

async function canPing(port: number, rootPassword: string, caPem: string | undefined): Promise<boolean> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    username: REDIS_ROOT_USER,
    password: rootPassword,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    disableClientInfo: true,
    ...(caPem ? { tls: { ca: caPem, servername: 'localhost' } } : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function launch(binary: string, dir: string, baseConfig: string, rootPassword: string, caPem: string | undefined, tls: boolean): Promise<Running> {
  const port = await freePort();
  const confPath = path.join(dir, 'redis.conf');
  const listen = tls ? ['port 0', `tls-port ${port}`] : [`port ${port}`];
  await writeFile(confPath, `${baseConfig}${listen.join('\n')}\n`, { mode: 0o600 });

  // setpriv sets a parent-death signal: if the test process is SIGKILLed without running its
  // 'exit' handlers, the server dies with it instead of lingering.
  const setpriv = SETPRIV;
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig=SIGKILL', '--', binary, confPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(binary, [confPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

  const logTail = keepLogTail(child);

  const ended = watchExit(child);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (ended.spawnError) throw new Error(`could not spawn ${binary}: ${ended.spawnError.message}`);
    const exited = ended.exited;
    if (exited) {
      const err = new Error(
        `redis-server exited during startup (code ${exited.code}, signal ${exited.signal}) on port ${port}.\n--- server log ---\n${logTail()}`,
      ) as Error & { portInUse?: boolean };
      err.portInUse = /address already in use|could not create server tcp listening socket/i.test(logTail());
      throw err;
    }
    if (/Ready to accept connections/.test(logTail()) && (await canPing(port, rootPassword, caPem))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s.\n--- server log ---\n${logTail()}`);
    }
    await sleep(25);
  }
  return { child, port };
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-redis-'));
  let running: Running | undefined;
  try {
    const adminPassword = randomBytes(18).toString('base64url');
    const rootPassword = randomBytes(18).toString('base64url');
    const aclFile = path.join(dir, 'users.acl');
    await writeFile(aclFile, aclFileText(adminPassword, rootPassword), { mode: 0o600 });

    let caPem: string | undefined;
    const conf = [
      'bind 127.0.0.1',
      'protected-mode yes',
      'daemonize no',
      'logfile ""',
      'loglevel notice',
      'save ""',
      'appendonly no',
      `dir ${dir}`,
      `aclfile ${aclFile}`,
      'databases 16',
    ];
    if (opts.tls) {
      const certs = await makeCertificates(dir);
      caPem = await readFile(certs.ca, 'utf8');
      conf.push(`tls-cert-file ${certs.cert}`, `tls-key-file ${certs.key}`, `tls-ca-cert-file ${certs.ca}`, 'tls-auth-clients no');
    }
    const baseConfig = `${conf.join('\n')}\n`;

    // The port is free when picked but another process may take it first: retry with a new one.
    for (let attempt = 1; ; attempt++) {
      try {
        running = await launch(binary, dir, baseConfig, rootPassword, caPem, Boolean(opts.tls));
        break;
      } catch (err) {
        if (!(err as { portInUse?: boolean }).portInUse || attempt >= 3) throw err;
      }
    }
    const { child, port } = running;
    track(child, dir, 'SIGKILL');
    child.unref();
    (child.stdout as net.Socket | null)?.unref?.();
    (child.stderr as net.Socket | null)?.unref?.();

    const scheme = opts.tls ? 'rediss' : 'redis';
    const host = '127.0.0.1';
    let stopping: Promise<void> | undefined;
    return {
      url: `${scheme}://${REDIS_ADMIN_USER}:${encodeURIComponent(adminPassword)}@${host}:${port}`,
      rootUrl: `${scheme}://${REDIS_ROOT_USER}:${encodeURIComponent(rootPassword)}@${host}:${port}`,
      host,
      port,
      adminUser: REDIS_ADMIN_USER,
      adminPassword,
      rootPassword,
      ...(caPem ? { caPem } : {}),
      dir,
      aclFile,
      pid: child.pid ?? -1,
      stop() {
        stopping ??= shutDown(child, dir, 'SIGTERM', STOP_TIMEOUT_MS);
        return stopping;
      },
    };
  } catch (err) {
    await shutDown(running?.child, dir, 'SIGTERM', STOP_TIMEOUT_MS).catch(() => {});
    throw err;
  }
}

/**
 * A client that has not logged in (the caller sends AUTH itself, to see a refusal as such),
 * never reconnects and never queues: what a granted user's own connection looks like.
 */
export function bareClient(host: string, port: number, caPem?: string): Redis {
  const client = new Redis({
    host,
    port,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    disableClientInfo: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    connectTimeout: 5_000,
    ...(caPem ? { tls: { ca: caPem, servername: 'localhost' } } : {}),
  });
  client.on('error', () => {});
  return client;
}

/** An ioredis client as `root` of a started server (TLS set up when the server uses it). */
export function rootClient(server: RedisServer): Redis {
  const client = new Redis({
    host: server.host,
    port: server.port,
    username: REDIS_ROOT_USER,
    password: server.rootPassword,
    enableReadyCheck: false,
    disableClientInfo: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    ...(server.caPem ? { tls: { ca: server.caPem, servername: 'localhost' } } : {}),
  });
  client.on('error', () => {});
  return client;
}

// Starts a throwaway MariaDB server for tests: its own temp directory (data directory,
// socket, pid file, logs), a free loopback port, a root password required over TCP and
// the socket. Never skips: if the server binaries are missing it throws, telling how to
// install them.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { cleanEnv as envWithout, freePort, isRoot, runTool, SETPRIV, shutDown, sleep, track, watchExit } from './server-process.js';

const execFileP = promisify(execFile);

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface MariadbServer {
  /** mysql://root:<pw>@127.0.0.1:<port>/<database>: an administrator (root) URL on the test database. */
  url: string;
  /** mysql://root:<pw>@127.0.0.1:<port>: root over TCP, no default database. */
  rootUrl: string;
  port: number;
  /** Unix socket path (root needs the password there too). */
  socket: string;
  database: string;
  /** Root's password. */
  password: string;
  /** Temp directory holding the data directory, socket and logs; removed by stop(). */
  dir: string;
  /** The server's error log (readable while it runs). */
  errorLog: string;
  /** PID of mariadbd. */
  pid: number;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMariadbOptions {
  /** Database to create and put in `url`; default `hourglass_test`. */
  database?: string;
  /** Serve TLS with this certificate and key (PEM files); clients may still connect without TLS. */
  tls?: { certFile: string; keyFile: string; caFile?: string };
}

export interface MariadbBinaries {
  server: string;
  installDb: string;
}

const SERVER_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd', '/usr/libexec/mariadbd'];
const INSTALL_CANDIDATES = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db', '/usr/sbin/mariadb-install-db'];

/** Locates mariadbd and mariadb-install-db; throws, naming the install script, when they are missing. */
export function findMariadbBinaries(serverCandidates: string[] = SERVER_CANDIDATES, installCandidates: string[] = INSTALL_CANDIDATES): MariadbBinaries {
  const server = serverCandidates.find((p) => existsSync(p));
  const installDb = installCandidates.find((p) => existsSync(p));
  if (!server || !installDb) {
    const missing = [
      !server && `mariadbd (looked in ${serverCandidates.join(', ')})`,
      !installDb && `mariadb-install-db (looked in ${installCandidates.join(', ')})`,
    ]
      .filter(Boolean)
      .join(' and ');
    throw new Error(
      `MariaDB server binaries not found: ${missing}. Tests that need MariaDB cannot run without them: ` +
        'run `bash scripts/install-test-deps.sh` (installs the Debian "mariadb-server" package).',
    );
  }
  return { server, installDb };
}

// ---------------------------------------------------------------------------
// Cleanup of servers still running when the process exits ('exit' handlers are synchronous).

// ---------------------------------------------------------------------------
// Running as root: the server runs as the `mysql` OS user when it exists (the Debian package
// creates it), with the temp directory handed to it; otherwise as root (`--user=root`).

let mysqlUserExists: Promise<boolean> | undefined;
function hasMysqlUser(): Promise<boolean> {
  mysqlUserExists ??= execFileP('id', ['-u', 'mysql']).then(
    () => true,
    () => false,
  );
  return mysqlUserExists;
}

const setpriv = SETPRIV;

/**
 * The command prefix that runs a program as `runAs` (when given) with a parent-death signal, so
 * a test process killed without running its 'exit' handlers does not leave a server behind.
 * setpriv changes the user before it sets the signal (a later credential change would clear it).
 */
function wrap(cmd: string, args: string[], runAs: string | undefined): [string, string[]] {
  if (setpriv) {
    const drop = runAs ? [`--reuid=${runAs}`, `--regid=${runAs}`, '--init-groups'] : [];
    return [setpriv, [...drop, '--pdeathsig=SIGKILL', '--', cmd, ...args]];
  }
  if (runAs) return ['runuser', ['-u', runAs, '--', cmd, ...args]];
  return [cmd, args];
}

// ---------------------------------------------------------------------------

// MYSQL_* / MARIADB_* variables of the developer's shell must not leak in.
const cleanEnv = () => envWithout(/^(MYSQL|MARIADB)_/);
const run = (cmd: string, args: string[], cwd: string) => runTool(cmd, args, cwd, cleanEnv());

/** InnoDB settings that make a small, fast, non-durable throwaway server (install and run). */
const SPEED_FLAGS = [
  '--innodb-buffer-pool-size=16M',
  '--innodb-log-file-size=8M',
  '--innodb-flush-log-at-trx-commit=0',
  '--innodb-doublewrite=0',
  '--skip-log-bin',
  '--skip-name-resolve',
  '--performance-schema=0',
];

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

/** True once root can run a query over the socket (password-less right after install). */
async function canQuery(socket: string): Promise<boolean> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 2_000 });
    await conn.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await conn?.end().catch(() => {});
  }
}

interface Running {
  child: ChildProcess;
  port: number;
}

async function launch(
  server: string,
  dir: string,
  dataDir: string,
  socket: string,
  errorLog: string,
  runAs: string | undefined,
  tls: StartMariadbOptions['tls'],
): Promise<Running> {
  const port = await freePort();
  const args = [
    '--no-defaults',
    ...(isRoot() ? [`--user=${runAs ?? 'root'}`] : []),
    `--datadir=${dataDir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--skip-networking=0',
    `--socket=${socket}`,
    `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
    `--log-error=${errorLog}`,
    `--tmpdir=${dir}`,
    '--max-connections=300',
    '--innodb-fast-shutdown=2',
    '--skip-innodb-buffer-pool-load-at-startup',
    '--skip-innodb-buffer-pool-dump-at-shutdown',
    ...SPEED_FLAGS,
    ...(tls ? [`--ssl-cert=${tls.certFile}`, `--ssl-key=${tls.keyFile}`, ...(tls.caFile ? [`--ssl-ca=${tls.caFile}`] : [])] : []),
  ];
  const [cmd, cmdArgs] = wrap(server, args, runAs);
  const spawnOpts: SpawnOptions = { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] };
  const child = spawn(cmd, cmdArgs, spawnOpts);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString('utf8')).slice(-8_000);
  });

  const ended = watchExit(child);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (ended.spawnError) throw new Error(`could not spawn ${server}: ${ended.spawnError.message}`);
    const exited = ended.exited;
    if (exited) {
      const log = `${tail(errorLog)}\n${stderr}`.trim();
      const err = new Error(
        `mariadbd exited during startup (code ${exited.code}, signal ${exited.signal}) on port ${port}.\n--- error log ---\n${log}`,
      ) as Error & { portInUse?: boolean };
      err.portInUse = /Address already in use|Do you already have another (mysqld|mariadbd) server running/i.test(log);
      throw err;
    }
    if (existsSync(socket) && (await canQuery(socket))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mariadbd did not accept connections within ${START_TIMEOUT_MS / 1000} s (port ${port}).\n--- error log ---\n${tail(errorLog)}`);
    }
    await sleep(50);
  }
  return { child, port };
}

const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** Starts a fresh server; typically 1-2 s. */
export async function startMariadb(opts: StartMariadbOptions = {}): Promise<MariadbServer> {
  const database = opts.database ?? 'hourglass_test';
  if (!database) throw new Error('startMariadb: database name must not be empty');
  const bins = findMariadbBinaries();
  const runAs = isRoot() && (await hasMysqlUser()) ? 'mysql' : undefined;

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-mariadb-'));
  let running: Running | undefined;
  try {
    const dataDir = path.join(dir, 'data');
    const socket = path.join(dir, 'mariadbd.sock');
    const errorLog = path.join(dir, 'error.log');
    await mkdir(dataDir, { mode: 0o700 });
    // Certificate files are copied in, so that the server (perhaps another OS user) can read them.
    let tls: StartMariadbOptions['tls'];
    if (opts.tls) {
      const copy = async (from: string, name: string) => {
        const to = path.join(dir, name);
        await copyFile(from, to);
        await chmod(to, 0o600);
        return to;
      };
      tls = {
        certFile: await copy(opts.tls.certFile, 'server-cert.pem'),
        keyFile: await copy(opts.tls.keyFile, 'server-key.pem'),
        ...(opts.tls.caFile ? { caFile: await copy(opts.tls.caFile, 'server-ca.pem') } : {}),
      };
    }
    if (runAs) {
      await chmod(dir, 0o755);
      await run('chown', ['-R', `${runAs}:`, dir], dir);
    }

    const installArgs = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      // Already running as `runAs` (setpriv); as root without a mysql user, say so.
      ...(isRoot() && !runAs ? ['--user=root'] : []),
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      // Its own temp directory: concurrent bootstraps sharing /tmp were seen to trip over each
      // other's temporary tables.
      `--tmpdir=${dir}`,
      ...SPEED_FLAGS,
    ];
    const [installCmd, installCmdArgs] = wrap(bins.installDb, installArgs, runAs);
    await run(installCmd, installCmdArgs, dir);

    for (let attempt = 1; ; attempt++) {
      try {
        running = await launch(bins.server, dir, dataDir, socket, errorLog, runAs, tls);
        break;
      } catch (err) {
        if (!(err as { portInUse?: boolean }).portInUse || attempt >= 3) throw err;
      }
    }
    const { child, port } = running;
    track(child, dir, 'SIGKILL');
    child.unref();
    (child.stderr as net.Socket | null)?.unref?.();

    // Root gets a password on every root account the installer made and loses the one named
    // after this machine; then the test database is created.
    const password = randomBytes(18).toString('base64url');
    const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT Host FROM mysql.user WHERE User = 'root' AND is_role = 'N'");
      for (const { Host } of rows as { Host: string }[]) {
        if (['localhost', '127.0.0.1', '::1'].includes(Host)) {
          await conn.query('ALTER USER ?@? IDENTIFIED BY ?', ['root', Host, password]);
        } else {
          await conn.query('DROP USER ?@?', ['root', Host]);
        }
      }
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)}`);
    } finally {
      await conn.end().catch(() => {});
    }

    const base = `mysql://root:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    let stopping: Promise<void> | undefined;
    return {
      url: `${base}/${encodeURIComponent(database)}`,
      rootUrl: base,
      port,
      socket,
      database,
      password,
      dir,
      errorLog,
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

// Starts a throwaway PostgreSQL server for tests: its own temp directory, a free
// loopback port, password (scram-sha-256) auth over TCP. Never skips: if the
// server binaries are missing it throws, telling how to install them.
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  cleanEnv as envWithout,
  freePort,
  isRoot,
  keepLogTail,
  runTool,
  SETPRIV,
  shutDown,
  sleep,
  terminate,
  track,
  untrack,
  watchExit,
} from './server-process.js';

const execFileP = promisify(execFile);

export const POSTGRES_ROOT = '/usr/lib/postgresql';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface PostgresServer {
  /** postgres://postgres:<pw>@127.0.0.1:<port>/<database> */
  url: string;
  /** Same credentials, database `postgres`. */
  adminUrl: string;
  port: number;
  database: string;
  password: string;
  /** Temp directory holding the data directory and socket; removed by stop(). */
  dir: string;
  /** PID of the postmaster. */
  pid: number;
  /**
   * Everything the server wrote to stdout/stderr (its log), appended as it arrives; inside
   * `dir`, so gone after stop(). Writes are asynchronous: poll for a marker statement.
   */
  logFile: string;
  /** Fast shutdown (SIGKILL after 5 s), then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown, keeping the data: clients are disconnected and new connections refused until `resume`. */
  pause(): Promise<void>;
  /** Starts the paused server again on the same port, with the same data, and waits until it answers. */
  resume(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Database to create and put in `url`; default `hourglass_test`. */
  database?: string;
  /** Extra server settings, passed as `-c name=value` (e.g. `{ log_statement: 'all' }`). */
  settings?: Record<string, string | number | boolean>;
}

/** Directory with initdb and postgres of the highest installed major version. */
export function findPostgresBinDir(root: string = POSTGRES_ROOT): string {
  let versions: string[] = [];
  try {
    versions = readdirSync(root);
  } catch {
    // handled below
  }
  const candidates = versions
    .filter((v) => /^\d+(\.\d+)*$/.test(v))
    .sort((a, b) => compareVersions(b, a))
    .map((v) => path.join(root, v, 'bin'))
    .filter((bin) => existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'postgres')));
  const found = candidates[0];
  if (!found) {
    throw new Error(
      `PostgreSQL server binaries (initdb, postgres) not found in ${root}/<version>/bin. ` +
        'Tests that need PostgreSQL cannot run without them: run `bash scripts/install-test-deps.sh` ' +
        '(installs the Debian "postgresql" package).',
    );
  }
  return found;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Cleanup of servers still running when the process exits (a test that never
// called stop(), or a failing suite). 'exit' handlers must be synchronous:
// SIGQUIT is PostgreSQL's immediate shutdown (it still releases its IPC).

// ---------------------------------------------------------------------------
// Running as root: PostgreSQL refuses to run as root, so the data directory
// belongs to the `postgres` OS user and the server runs as that user.

interface OsUser {
  uid: number;
  gid: number;
}

let postgresUser: Promise<OsUser> | undefined;

async function lookupUser(name: string): Promise<OsUser | undefined> {
  try {
    const uid = Number((await execFileP('id', ['-u', name])).stdout.trim());
    const gid = Number((await execFileP('id', ['-g', name])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

function ensurePostgresUser(): Promise<OsUser> {
  postgresUser ??= (async () => {
    const existing = await lookupUser('postgres');
    if (existing) return existing;
    let detail = '';
    try {
      await execFileP('useradd', ['--system', '--no-create-home', 'postgres']);
    } catch (err) {
      detail = String((err as { stderr?: string }).stderr ?? err).trim();
    }
    // Another test worker may have created it concurrently.
    const created = await lookupUser('postgres');
    if (created) return created;
    throw new Error(
      'Running as root, PostgreSQL must run as the `postgres` OS user, which does not exist and ' +
        `could not be created (useradd --system --no-create-home postgres: ${detail || 'failed'}). ` +
        'Create it, or run `bash scripts/install-test-deps.sh` (the Debian package creates it).',
    );
  })();
  postgresUser.catch(() => {
    postgresUser = undefined; // allow a retry in a later call
  });
  return postgresUser;
}

// ---------------------------------------------------------------------------

// PG* variables of the developer's shell must not leak into initdb/postgres.
const cleanEnv = () => envWithout(/^PG/);
const run = (cmd: string, args: string[], cwd: string) => runTool(cmd, args, cwd, cleanEnv());

/**
 * The SQL that sets up the target the PostgreSQL end-to-end tests and benches grant on
 * (docs/targets/postgres.md): a CREATEROLE admin `hourglass`, and a NOLOGIN role `app_read` that
 * may read the one-row table `items`.
 */
export function appReadTargetSql(adminPassword: string): string[] {
  return [
    `CREATE ROLE hourglass LOGIN CREATEROLE PASSWORD '${adminPassword}'`,
    'CREATE ROLE app_read NOLOGIN',
    'CREATE TABLE items (id int, name text)',
    "INSERT INTO items VALUES (1, 'one')",
    'GRANT SELECT ON items TO app_read',
  ];
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function canQuery(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

interface Running {
  child: ChildProcess;
  port: number;
  logTail: () => string;
}

/** Spawns the postmaster on a free port and waits until it answers `SELECT 1` over TCP. */
async function launch(
  binDir: string,
  dataDir: string,
  sockDir: string,
  password: string,
  user: OsUser | undefined,
  cwd: string,
  settings: Record<string, string | number | boolean>,
  logFile: string,
  fixedPort?: number,
): Promise<Running> {
  const port = fixedPort ?? (await freePort());
  const pgArgs = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    sockDir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${String(v)}`]),
  ];
  const postgresBin = path.join(binDir, 'postgres');
  // setpriv execs postgres in place (so signals reach the postmaster directly, which
  // runuser's supervising parent would not guarantee) and sets a parent-death signal:
  // if the test process dies without running 'exit' handlers (e.g. SIGKILLed by the
  // test runner), the server shuts down instead of lingering.
  const setpriv = SETPRIV;
  let child: ChildProcess;
  const spawnOpts: SpawnOptions = { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] };
  if (setpriv) {
    const drop = user ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
    child = spawn(setpriv, [...drop, '--pdeathsig=SIGQUIT', '--', postgresBin, ...pgArgs], spawnOpts);
  } else {
    child = spawn(postgresBin, pgArgs, user ? { ...spawnOpts, uid: user.uid, gid: user.gid } : spawnOpts);
  }

  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  log.on('error', () => {});
  child.once('exit', () => log.end());
  const logTail = keepLogTail(child, 60, (buf) => log.write(buf));

  const ended = watchExit(child);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (ended.spawnError) throw new Error(`could not spawn ${postgresBin}: ${ended.spawnError.message}`);
    const exited = ended.exited;
    if (exited) {
      const err = new Error(
        `postgres exited during startup (code ${exited.code}, signal ${exited.signal}) on port ${port}.\n` + `--- server log ---\n${logTail()}`,
      ) as Error & { portInUse?: boolean };
      err.portInUse = /could not bind|address already in use|could not create any TCP\/IP sockets/i.test(logTail());
      throw err;
    }
    if (await canQuery(port, password)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s.\n` + `--- server log ---\n${logTail()}`);
    }
    await sleep(100);
  }
  return { child, port, logTail };
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const database = opts.database ?? 'hourglass_test';
  if (!database) throw new Error('startPostgres: database name must not be empty');
  const binDir = findPostgresBinDir();
  const user = isRoot() ? await ensurePostgresUser() : undefined;

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-pg-'));
  let running: Running | undefined;
  try {
    const dataDir = path.join(dir, 'data');
    const sockDir = path.join(dir, 'sock');
    const pwFile = path.join(dir, 'pwfile');
    const logFile = path.join(dir, 'server.log');
    const password = randomBytes(18).toString('base64url');
    await mkdir(sockDir, { mode: 0o700 });
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (user) await run('chown', ['-R', 'postgres:', dir], dir);

    const initdbArgs = [
      '-D',
      dataDir,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ];
    const initdb = path.join(binDir, 'initdb');
    if (user) await run('runuser', ['-u', 'postgres', '--', initdb, ...initdbArgs], dir);
    else await run(initdb, initdbArgs, dir);
    await unlink(pwFile);

    // The port is free when picked but another process may take it before the
    // server binds it; retry with a new port in that case.
    for (let attempt = 1; ; attempt++) {
      try {
        running = await launch(binDir, dataDir, sockDir, password, user, dir, opts.settings ?? {}, logFile);
        break;
      } catch (err) {
        if (!(err as { portInUse?: boolean }).portInUse || attempt >= 3) throw err;
      }
    }
    const { port } = running;
    const adopt = (c: ChildProcess) => {
      track(c, dir, 'SIGQUIT');
      // Do not keep the test process alive just because a server is running; the
      // 'exit' hook (and the parent-death signal) take care of it.
      c.unref();
      (c.stdout as net.Socket | null)?.unref?.();
      (c.stderr as net.Socket | null)?.unref?.();
    };
    let child: ChildProcess | undefined = running.child;
    adopt(child);

    if (database !== 'postgres') {
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
      admin.on('error', () => {});
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }

    const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    let stopping: Promise<void> | undefined;
    return {
      url: `${base}/${encodeURIComponent(database)}`,
      adminUrl: `${base}/postgres`,
      port,
      database,
      password,
      dir,
      pid: child.pid ?? -1,
      logFile,
      stop() {
        // SIGINT is PostgreSQL's fast shutdown: it disconnects sessions a test left open.
        stopping ??= shutDown(child, dir, 'SIGINT', STOP_TIMEOUT_MS);
        return stopping;
      },
      async pause() {
        if (!child) return;
        const c = child;
        child = undefined;
        await terminate(c, 'SIGINT', STOP_TIMEOUT_MS);
        untrack(c);
      },
      async resume() {
        if (child || stopping) return;
        const again = await launch(binDir, dataDir, sockDir, password, user, dir, opts.settings ?? {}, logFile, port);
        child = again.child;
        adopt(child);
      },
    };
  } catch (err) {
    await shutDown(running?.child, dir, 'SIGINT', STOP_TIMEOUT_MS).catch(() => {});
    throw err;
  }
}

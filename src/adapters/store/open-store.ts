import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { HgError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import type { CheckpointStore } from '../../app/checkpoints.js';
import type { WebhookStore } from '../../app/webhooks.js';
import { KyselyCheckpointStore } from './checkpoint-store.js';
import { KyselyStore } from './kysely-store.js';
import { migrate } from './migrations.js';
import { readStoreSnapshot, type StoreSnapshot } from './state-snapshot.js';
import { reportUnavailable } from './unavailable.js';
import { KyselyWebhookStore } from './webhook-store.js';
import { KyselyIssuedStore } from './issued-store.js';
import { KyselyPrincipalStore } from './principal-store.js';
import { KyselyIdentityStore } from './identity-store.js';
import { KyselyMfaStore } from './mfa-store.js';
import { KyselyNotificationStore } from './notification-store.js';
import type { NotificationStore } from '../../app/notifications/ports.js';
import type { MfaStore } from '../../app/identity/mfa-ports.js';
import type { IdentityStore } from '../../app/identity/ports.js';
import type { IssuedCredentialStore } from '../../app/issued-credentials.js';
import type { PrincipalStore } from '../../app/ports.js';
import type { Database } from './schema.js';
import { listenForChanges, type ChangeHints } from './change-hints.js';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpoints.js';

// BIGINT columns hold epoch milliseconds and counters, all far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * One database, seen through the role ports its users need: the use cases' store, the webhook
 * outbox, the checkpoint table and the metrics figures. Each translates outages into
 * HG_STORE_UNAVAILABLE; `close` closes the database they share.
 */
export interface OpenedStore {
  /** The Store port (the concrete class, whose `db` tests and maintenance tools may use). */
  store: KyselyStore;
  webhooks: WebhookStore;
  checkpoints: CheckpointStore;
  /** Credentials issued on request, their revocation versions, host agents' reports. */
  issued: IssuedCredentialStore;
  /** Principals known from identity sources (the Directory reads them after the configuration's). */
  principals: PrincipalStore;
  /** Sessions, tokens and single-use keys (src/app/identity/ports.ts). */
  identity: IdentityStore;
  /** Step-up MFA factors (src/app/identity/mfa-ports.ts). */
  mfa: MfaStore;
  /** Notifications to people: their outbox, attempt log and one-time links (src/app/notifications/ports.ts). */
  notifications: NotificationStore;
  /** The figures the metrics gauges read at scrape time. */
  stateSnapshot(now: number): Promise<StoreSnapshot>;
  /** PostgreSQL: notifications of commits by any server (change-hints.ts). SQLite has one server, whose commits the index sees itself. */
  listenForChanges?: (onHint: () => void, onError: (err: Error) => void) => ChangeHints;
  close(): Promise<void>;
}

/**
 * Opens `sqlite:PATH` (relative to `cwd`) or `postgres://...`, runs migrations, and returns its
 * role ports.
 */
export interface OpenStoreOptions {
  cwd: string;
  poolSize?: number;
  /** SQLite: the background checkpoints failed, or work again (the server checkpoints in its commits meanwhile). */
  onCheckpointError?: (message: string) => void;
  onCheckpointRecovered?: () => void;
}

export async function openStore(url: string, opts: OpenStoreOptions): Promise<OpenedStore> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    return roles(await openSqlite(path === ':memory:' ? path : resolve(opts.cwd, path), opts));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { ...roles(await openPostgres(url, opts.poolSize ?? 10)), listenForChanges: (onHint, onError) => listenForChanges(url, onHint, { onError }) };
  }
  throw new HgError('HG_CONFIG_INVALID', 'server.store must be sqlite:PATH or postgres://...');
}

function roles(store: KyselyStore): OpenedStore {
  const db = store.db;
  return {
    store,
    webhooks: reportUnavailable(new KyselyWebhookStore(db, store.dialect)),
    checkpoints: reportUnavailable(new KyselyCheckpointStore(db)),
    issued: reportUnavailable(new KyselyIssuedStore(db)),
    principals: reportUnavailable(new KyselyPrincipalStore(db)),
    identity: reportUnavailable(new KyselyIdentityStore(db)),
    mfa: reportUnavailable(new KyselyMfaStore(db)),
    notifications: reportUnavailable(new KyselyNotificationStore(db, store.dialect)),
    stateSnapshot: (now) => readStoreSnapshot(db, now),
    close: () => store.close(),
  };
}

/**
 * SQLite is for one server. The server holds an exclusive lock on a small file beside the
 * database (`PATH-lock`) until it closes (the OS drops it if the process dies), so a second
 * server fails at once; the database itself stays readable by other processes (an online
 * backup with `sqlite3 PATH ".backup COPY"`). Checkpoints run in a worker thread
 * (sqlite-checkpoints.ts), not in the server's commits.
 */
async function openSqlite(path: string, opts: Pick<OpenStoreOptions, 'onCheckpointError' | 'onCheckpointRecovered'>): Promise<KyselyStore> {
  if (path === ':memory:') return sqliteStore(new BetterSqlite3(path), undefined, undefined);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lock = lockSqlite(path);
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    sqlite = new BetterSqlite3(path, { timeout: 0 });
    // The file holds the audit log and sealed credentials: owner only (SQLite gives its -wal and -shm the file's mode).
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    // The backstop, should the checkpoint worker stop: the commit that takes the WAL past
    // ~40 MB checkpoints it. The WAL is cut back to 64 MB each time it starts over.
    sqlite.pragma('wal_autocheckpoint = 10000');
    sqlite.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  } catch (err) {
    sqlite?.close();
    lock.close();
    // An earlier build kept the database file itself locked.
    throw isBusy(err) ? inUse(path) : err;
  }
  const checkpointer = startCheckpointer(sqlite, path, {
    journalSizeLimit: JOURNAL_SIZE_LIMIT,
    ...(opts.onCheckpointError ? { onError: opts.onCheckpointError } : {}),
    ...(opts.onCheckpointRecovered ? { onRecovered: opts.onCheckpointRecovered } : {}),
  });
  return sqliteStore(sqlite, checkpointer, lock);
}

const JOURNAL_SIZE_LIMIT = 64 * 2 ** 20;

async function sqliteStore(
  sqlite: BetterSqlite3.Database,
  checkpointer: Checkpointer | undefined,
  lock: BetterSqlite3.Database | undefined,
): Promise<KyselyStore> {
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  // The connection closes with the Kysely instance; then the worker's (the last one folds the WAL in), then the lock.
  const release = async () => {
    await checkpointer?.stop();
    lock?.close();
  };
  try {
    await migrate(db, 'sqlite');
  } catch (err) {
    await db.destroy();
    await release();
    throw err;
  }
  return reportUnavailable(new KyselyStore(db, 'sqlite', release, sqlite));
}

/** Takes the one-server lock on `PATH-lock` (a SQLite file in exclusive locking mode, which keeps its lock until closed). */
function lockSqlite(path: string): BetterSqlite3.Database {
  const lockPath = `${path}-lock`;
  const lock = new BetterSqlite3(lockPath, { timeout: 0 });
  try {
    chmodSync(lockPath, 0o600);
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('journal_mode = MEMORY');
    // Who holds it, for whoever opens the file by hand; writing takes the exclusive lock, kept until close.
    lock.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, since INTEGER NOT NULL)');
    lock.transaction(() => {
      lock.exec('DELETE FROM holder');
      lock.prepare('INSERT INTO holder (pid, host, since) VALUES (?, ?, ?)').run(process.pid, hostname(), Date.now());
    })();
    return lock;
  } catch (err) {
    lock.close();
    throw isBusy(err) ? inUse(path) : err;
  }
}

const isBusy = (err: unknown) => (err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true;

const inUse = (path: string) =>
  new HgError(
    'HG_STORE_IN_USE',
    `another Hourglass server is using the SQLite store ${path}. SQLite serves one server only; ` +
      'stop the other server, or use a PostgreSQL store (server.store: postgres://...) to run several.',
  );

/**
 * Kysely's SQLite driver prepares every query anew and better-sqlite3 caches nothing; preparing
 * was 11% of the server's CPU in the request lifecycle. Statements are reused by SQL text (safe:
 * the store never iterates a statement while running another on it).
 */
function cachingStatements(sqlite: BetterSqlite3.Database) {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (statements.size >= 500) statements.delete(statements.keys().next().value!);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(url: string, max: number): Promise<KyselyStore> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateOnce(db);
  } catch (err) {
    await db.destroy();
    throw new HgError('HG_STORE_UNAVAILABLE', `cannot open the PostgreSQL store: ${scrub((err as Error).message, url)}`);
  }
  return reportUnavailable(new KyselyStore(db, 'postgres'));
}

/** Several servers may start together; Kysely's migration lock serialises them. */
async function migrateOnce(db: Kysely<Database>) {
  await migrate(db, 'postgres');
}

function scrub(message: string, url: string): string {
  const password = (() => {
    try {
      return decodeURIComponent(new URL(url).password);
    } catch {
      return '';
    }
  })();
  return password ? redact(message, [password]) : message;
}

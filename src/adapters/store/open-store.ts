import { chmodSync, existsSync, mkdirSync } from 'node:fs';
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
export async function openStore(url: string, opts: { cwd: string; poolSize?: number }): Promise<OpenedStore> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    return roles(await openSqlite(path === ':memory:' ? path : resolve(opts.cwd, path)));
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
 * SQLite is for one server. The connection takes an exclusive lock on the file and keeps it
 * until it closes (the OS drops it if the process dies), so a second server fails at once.
 */
async function openSqlite(path: string): Promise<KyselyStore> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new BetterSqlite3(path, { timeout: 0 });
  // The file holds the audit log and sealed credentials: owner only.
  if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  try {
    sqlite.pragma('locking_mode = EXCLUSIVE');
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    // Checkpoints (each an fsync) every ~40 MB of WAL rather than 4 MB: commits were spending
    // most of their time in them. The WAL is cut back to 64 MB after each.
    sqlite.pragma('wal_autocheckpoint = 10000');
    sqlite.pragma('journal_size_limit = 67108864');
    sqlite.pragma('foreign_keys = ON');
    // Take the write lock now rather than at the first write.
    sqlite.exec('BEGIN IMMEDIATE; COMMIT;');
  } catch (err) {
    sqlite.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new HgError(
        'HG_STORE_IN_USE',
        `another Hourglass server is using the SQLite store ${path}. SQLite serves one server only; ` +
          'stop the other server, or use a PostgreSQL store (server.store: postgres://...) to run several.',
      );
    }
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  await migrate(db, 'sqlite');
  return reportUnavailable(new KyselyStore(db, 'sqlite', async () => {}, sqlite));
}

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

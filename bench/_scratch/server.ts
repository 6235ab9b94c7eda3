// scratch experiment server: the real app and HTTP layer, with optional patches (VARIANT env)
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import pino from 'pino';
import { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { migrate } from '../../src/adapters/store/migrations.js';
import { createIds, systemClock } from '../../src/adapters/system.js';
import { Scheduler } from '../../src/adapters/scheduler.js';
import { Hourglass } from '../../src/app/hourglass.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import { buildServer } from '../../src/http/build-server.js';

const variant = new Set((process.env.VARIANT ?? '').split(',').filter(Boolean));
const config = loadConfigFile(process.argv[2]!, {});
const path = config.server.store.slice('sqlite:'.length);
const sqlite = new BetterSqlite3(path, { timeout: 0 });
sqlite.pragma('locking_mode = EXCLUSIVE');
sqlite.pragma('journal_mode = WAL');
sqlite.pragma('synchronous = NORMAL');
sqlite.pragma('foreign_keys = ON');
sqlite.exec('BEGIN IMMEDIATE; COMMIT;');
let database: any = sqlite;
if (variant.has('stmtcache')) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  database = {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let s = cache.get(sql);
      if (!s) {
        s = sqlite.prepare(sql);
        if (cache.size >= 256) cache.delete(cache.keys().next().value!);
        cache.set(sql, s);
      }
      return s;
    },
  };
}
const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) });
await migrate(db, 'sqlite');
const store = new KyselyStore(db, 'sqlite');
if (variant.has('fastgrant')) {
  const stmt = sqlite.prepare('SELECT request_id, expires_at FROM grants WHERE principal = ? AND entitlement = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1');
  (store as any).findGrant = async (principal: string, entitlement: string, now: number) => {
    const row = stmt.get(principal, entitlement, now) as { request_id: string; expires_at: number } | undefined;
    return row ? { requestId: row.request_id, principal, entitlement, expiresAt: Number(row.expires_at) } : undefined;
  };
}
if (variant.has('rawcompiled')) {
  const text = 'SELECT request_id, expires_at FROM grants WHERE principal = ? AND entitlement = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1';
  (store as any).findGrant = async (principal: string, entitlement: string, now: number) => {
    const { rows } = await db.executeQuery<{ request_id: string; expires_at: number }>(CompiledQuery.raw(text, [principal, entitlement, now]));
    const row = rows[0];
    return row ? { requestId: row.request_id, principal, entitlement, expiresAt: Number(row.expires_at) } : undefined;
  };
}
const log = pino({ level: variant.has('nolog') ? 'silent' : 'warn' });
const source = { current: () => config };
const app = new Hourglass({ store, clock: systemClock, ids: createIds(systemClock), config: source });
const scheduler = new Scheduler(app, () => config.server.schedulerIntervalMs, log);
const server = await buildServer({ app, config: source, ...(variant.has('nologger') ? {} : { logger: log }), scheduler: () => scheduler.status });
scheduler.start();
const url = await server.listen({ host: '127.0.0.1', port: 0 });
process.stderr.write(`Hourglass is listening on ${url}\n`);
process.on('SIGTERM', () => void scheduler.stop().then(() => server.close()).then(() => store.close()).then(() => process.exit(0)));

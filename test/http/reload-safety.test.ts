/**
 * A reload may not strand access: a target (or entitlement) that still holds grants on a real
 * Redis and a real PostgreSQL cannot leave the file, be renamed or change kind; the refusal names
 * the targets and requests and the old configuration stays. A principal removed from the file
 * loses its grants at the reload (and really loses them on the targets), and can still be locked.
 * Driven as a user meets it: the real server (startServer) over HTTP, the file rewritten on disk.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startServer, type RunningServer } from '../../src/cli/serve.js';
import { tokenHash } from '../fixtures/policies.js';
import { callApi } from '../support/http-api.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

const PG_PW = `adm-${randomBytes(12).toString('hex')}`;
let dir: string;
let configPath: string;
let pgServer: PostgresServer;
let redis: RedisServer;
let su: pg.Client;
let root: Redis;
let server: RunningServer;
let env: Record<string, string>;

interface FileOptions {
  /** Target names as written in the file. */
  cacheName?: string;
  dbName?: string;
  /** Drop the `write` entitlement of the cache. */
  noCacheWrite?: boolean;
  /** The cache target's type (to test a change of kind). */
  cacheType?: string;
  /** Leave the cache target out altogether. */
  noCache?: boolean;
  withMallory?: boolean;
}

function file(o: FileOptions = {}): string {
  const cacheName = o.cacheName ?? 'cache';
  const dbName = o.dbName ?? 'app-db';
  const cache = o.noCache
    ? ''
    : (o.cacheType ?? 'redis') === 'redis'
      ? `  ${cacheName}:
    type: redis
    url: redis://hourglass:\${REDIS_PW}@127.0.0.1:${redis.port}
    entitlements:
      read: { acl: "~app:* +@read" }
${o.noCacheWrite ? '' : '      write: { acl: "~app:* +@read +@write" }\n'}`
      : `  ${cacheName}:
    type: hourglass
    entitlements:
      read: {}
      write: {}
`;
  return `
server: { listen: 127.0.0.1:0, store: "sqlite:${join(dir, 'hg.db')}", schedulerInterval: 50ms }
credentials: { key: "\${HG_KEY}" }
principals:
  - { id: alice, groups: [dev], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
${o.withMallory === false ? '' : `  - { id: mallory, groups: [dev], apiTokens: [{ sha256: ${tokenHash('mallory')} }] }\n`}  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
${cache}  ${dbName}:
    type: postgres
    url: postgres://hourglass:\${PG_PW}@127.0.0.1:${pgServer.port}/${pgServer.database}
    entitlements:
      read: { roles: [app_read] }
policies:
  - name: self
    subjects: { groups: [dev] }
    entitlements: [${o.noCache ? '' : `${cacheName}/read, `}${o.noCacheWrite || o.noCache ? '' : `${cacheName}/write, `}${dbName}/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
}

const api = (method: string, path: string, who: string, body?: unknown) => callApi(server.url, method, path, who, body);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() - start > timeoutMs) return v;
    await sleep(50);
  }
}

async function grantFor(who: string, entitlements: string[]) {
  const res = await api('POST', '/v1/requests', who, { entitlements, duration: '1h' });
  expect(res.status).toBe(201);
  const active = await until(
    () => api('GET', `/v1/requests/${res.body.id}`, 'admin'),
    (r) => r.body.access === 'present',
  );
  expect(active.body).toMatchObject({ status: 'active', access: 'present' });
  const creds = await api('POST', `/v1/requests/${res.body.id}/credentials`, who);
  expect(creds.status).toBe(200);
  return { id: res.body.id as string, targets: creds.body.targets as Record<string, { username: string; password: string }> };
}

async function redisReads(c: { username: string; password: string }): Promise<boolean> {
  const r = new Redis({
    host: '127.0.0.1',
    port: redis.port,
    username: c.username,
    password: c.password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.get('app:key')) === 'v';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function pgLogsIn(c: { username: string; password: string }): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port: pgServer.port, database: pgServer.database, user: c.username, password: c.password });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1 FROM items');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

beforeAll(async () => {
  [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
  su = new pg.Client({ connectionString: pgServer.url });
  await su.connect();
  for (const q of appReadTargetSql(PG_PW)) await su.query(q);
  root = new Redis({ host: '127.0.0.1', port: redis.port, username: 'root', password: redis.rootPassword });
  await root.set('app:key', 'v');
  dir = mkdtempSync(join(tmpdir(), 'hg-reload-'));
  configPath = join(dir, 'hourglass.yaml');
  env = { HOURGLASS_LOG_LEVEL: 'silent', PG_PW, REDIS_PW: redis.adminPassword, HG_KEY: randomBytes(32).toString('base64') };
  writeFileSync(configPath, file());
  server = await startServer(configPath, env, createLogger(env));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  root?.disconnect();
  await su?.end();
  await Promise.all([pgServer?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a reload that would strand access is refused', () => {
  it('dropping, renaming or retyping targets with live grants, or dropping their entitlements: 422 naming them, old file kept, access still revocable', async () => {
    const g = await grantFor('alice', ['cache/write', 'app-db/read']);
    expect(await redisReads(g.targets.cache!)).toBe(true);
    expect(await pgLogsIn(g.targets['app-db']!)).toBe(true);

    for (const [what, text, paths] of [
      ['both renamed', file({ cacheName: 'cache2', dbName: 'db2' }), ['targets.cache', 'targets.app-db']],
      ['cache retyped', file({ cacheType: 'hourglass' }), ['targets.cache.type']],
      ['entitlement dropped', file({ noCacheWrite: true }), ['targets.cache.entitlements.write']],
    ] as const) {
      writeFileSync(configPath, text);
      const res = await api('POST', '/v1/reload', 'admin');
      expect(res.status, what).toBe(422);
      expect(res.body.error.code).toBe('HG_CONFIG_INVALID');
      expect(res.body.error.details.problems.map((p: { path: string }) => p.path).sort()).toEqual([...paths].sort());
      expect(res.body.error.message).toContain(g.id);
    }
    const reloads = await api('GET', '/v1/audit?type=config.reloaded', 'admin');
    expect(reloads.body.events).toHaveLength(0);

    // The old file is in force, so revocation reaches the real accounts.
    expect((await api('POST', `/v1/requests/${g.id}/revoke`, 'admin', { reason: 'done' })).status).toBe(200);
    const ended = await until(
      () => api('GET', `/v1/requests/${g.id}`, 'admin'),
      (r) => r.body.access === 'removed',
    );
    expect(ended.body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(await redisReads(g.targets.cache!)).toBe(false);
    expect(await pgLogsIn(g.targets['app-db']!)).toBe(false);

    // With the access gone, the same change is accepted.
    writeFileSync(configPath, file({ cacheName: 'cache2', dbName: 'db2' }));
    const ok = await api('POST', '/v1/reload', 'admin');
    expect(ok).toMatchObject({ status: 200, body: { revoked: [], cancelled: [] } });
    writeFileSync(configPath, file());
    expect((await api('POST', '/v1/reload', 'admin')).status).toBe(200);
  });
});

describe('a principal removed from the file', () => {
  it('loses its grants and pending requests at the reload, on the real targets too, and can still be locked', async () => {
    const g = await grantFor('mallory', ['cache/read', 'app-db/read']);
    expect(await redisReads(g.targets.cache!)).toBe(true);

    writeFileSync(configPath, file({ withMallory: false }));
    const res = await api('POST', '/v1/reload', 'admin');
    expect(res).toMatchObject({ status: 200, body: { revoked: [g.id], cancelled: [] } });
    const ended = await until(
      () => api('GET', `/v1/requests/${g.id}`, 'admin'),
      (r) => r.body.access === 'removed',
    );
    expect(ended.body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(await redisReads(g.targets.cache!)).toBe(false);
    expect(await pgLogsIn(g.targets['app-db']!)).toBe(false);
    const revoked = (await api('GET', `/v1/audit?requestId=${g.id}&type=grant.revoked`, 'admin')).body.events;
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ actor: 'system', details: { reason: 'principal mallory is no longer in the configuration' } });

    // Lock works for a principal that held grants, even though the file no longer names it.
    const lock = await api('POST', '/v1/principals/mallory/lock', 'admin', { reason: 'left the company' });
    expect(lock).toMatchObject({ status: 200, body: { locked: true, changed: true } });
    expect((await api('GET', '/v1/locks', 'admin')).body.principals.map((l: { subject: string }) => l.subject)).toEqual(['mallory']);
    // A name that never held anything is still unknown.
    expect((await api('POST', '/v1/principals/nobody-at-all/lock', 'admin', {})).status).toBe(404);
  });
});

describe('a restart with a file that left things out', () => {
  it('ends the access of principals removed meanwhile, and never records removal on a target it no longer knows', async () => {
    const kept = await grantFor('alice', ['cache/read']);
    writeFileSync(configPath, file());
    await server.stop();
    // While the server is down, the operator drops the cache target (alice keeps her grant there).
    writeFileSync(configPath, file({ noCache: true }));
    server = await startServer(configPath, env, createLogger(env));
    const alerts = (await api('GET', '/v1/audit?type=alert.target_unconfigured', 'admin')).body.events;
    expect(alerts.at(-1)).toMatchObject({ actor: 'system', details: { target: 'cache', requests: [kept.id] } });

    expect((await api('POST', `/v1/requests/${kept.id}/revoke`, 'admin', { reason: 'x' })).status).toBe(200);
    await sleep(1000);
    const stuck = await api('GET', `/v1/requests/${kept.id}`, 'admin');
    expect(stuck.body).toMatchObject({ status: 'revoked', access: 'removing' });
    expect(await redisReads(kept.targets.cache!)).toBe(true); // still there, and not claimed removed
    expect((await api('GET', `/v1/audit?requestId=${kept.id}&type=grant.access_removed`, 'admin')).body.events).toEqual([]);

    // Configured again: the removal completes on the real server.
    writeFileSync(configPath, file());
    expect((await api('POST', '/v1/reload', 'admin')).status).toBe(200);
    const removed = await until(
      () => api('GET', `/v1/requests/${kept.id}`, 'admin'),
      (r) => r.body.access === 'removed',
      20_000,
    );
    expect(removed.body.access).toBe('removed');
    expect(await redisReads(kept.targets.cache!)).toBe(false);

    // A principal removed while the server was down loses its grants at start-up.
    const g = await grantFor('alice', ['cache/read']);
    await server.stop();
    writeFileSync(configPath, file().replace(/  - \{ id: alice.*\n/, ''));
    server = await startServer(configPath, env, createLogger(env));
    const ended = await until(
      () => api('GET', `/v1/requests/${g.id}`, 'admin'),
      (r) => r.body.access === 'removed',
    );
    expect(ended.body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(await redisReads(g.targets.cache!)).toBe(false);
  }, 60_000);
});

/**
 * Target work in per-target lanes (issue 9, items 3 and 1): a PostgreSQL target whose GRANT waits
 * on a lock (a conflicting lock held in another session) must not hold up expiry, or a Redis
 * grant's removal; a request naming a target that left the configuration is never recorded as
 * removed there. Real PostgreSQL and Redis servers, a real SQLite store, the real Scheduler.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { createConnectorRegistry } from '../../src/adapters/connectors/registry.js';
import { Scheduler } from '../../src/adapters/scheduler.js';
import { AccessWork, laneLimits } from '../../src/app/access-work.js';
import type { ConnectorRegistry } from '../../src/app/connectors.js';
import { TargetLanes, type Timers } from '../../src/app/target-lanes.js';
import { parseConfig } from '../support/config.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { tokenHash } from '../fixtures/policies.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { rootClient, startRedis, type RedisServer } from '../support/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the lanes on their own ----------------------------------------------------------------------------

describe('TargetLanes', () => {
  const limits = { concurrency: 2, callTimeoutMs: 100 };
  const never = () => new Promise<never>(() => {});

  it('runs at most `concurrency` calls per target; a hung target keeps only its own slots', async () => {
    const lanes = new TargetLanes();
    let release!: () => void;
    const held = new Promise<string>((r) => (release = () => r('late')));
    const slow = [lanes.run('db', 'r1', limits, 'grant', () => held), lanes.run('db', 'r2', limits, 'grant', () => held)].map((p) =>
      p.catch((e: unknown) => e),
    );
    const third = lanes.run('db', 'r3', limits, 'grant', async () => 'ran');
    expect(lanes.inFlight('db')).toBe(2);
    expect(lanes.queued('db')).toBe(1);
    // Another target is not behind them.
    expect(await lanes.run('cache', 'r4', limits, 'revoke', async () => 'fast')).toBe('fast');
    await expect(third).rejects.toThrow('target "db": grant: no free slot (its calls are stuck) within 100 ms (callTimeout)');
    for (const p of slow) expect(await p).toMatchObject({ code: 'HG_TARGET_UNAVAILABLE', details: { target: 'db', abandoned: true } });
    // Timed out, but still running on the target: the slots stay taken until the calls end.
    expect(lanes.inFlight('db')).toBe(2);
    release();
    await sleep(0);
    expect(lanes.inFlight('db')).toBe(0);
    expect(await lanes.run('db', 'r5', limits, 'grant', async () => 'next')).toBe('next');
  });

  it('a call for a request waits until its earlier call on that target has really ended', async () => {
    const lanes = new TargetLanes();
    const order: string[] = [];
    let release!: () => void;
    const grant = lanes.run(
      'db',
      'r1',
      { concurrency: 4, callTimeoutMs: 50 },
      'grant',
      () => new Promise<void>((r) => (release = () => (order.push('grant ended'), r()))),
    );
    await expect(grant).rejects.toThrow(/no answer within 50 ms/);
    const revoke = lanes.run('db', 'r1', { concurrency: 4, callTimeoutMs: 1000 }, 'revoke', async () => void order.push('revoke'));
    await sleep(20);
    expect(order).toEqual([]);
    release();
    await revoke;
    expect(order).toEqual(['grant ended', 'revoke']);
  });

  it('uses the timers it is given, and a call that throws at once fails like any other', async () => {
    const fired: (() => void)[] = [];
    const timers: Timers = { after: (_ms, fn) => (fired.push(fn), () => {}) };
    const lanes = new TargetLanes(timers);
    const p = lanes.run('db', 'r1', limits, 'extend', never);
    fired[0]!();
    await expect(p).rejects.toThrow(/no answer within 100 ms/);
    await expect(
      lanes.run('db', 'r2', limits, 'grant', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });
});

describe('lane settings', () => {
  const target = (extra: string) => `
credentials: { key: "${randomBytes(32).toString('base64')}" }
targets:
  cache:
    type: redis
    url: redis://hourglass:pw@127.0.0.1:1
${extra}
    entitlements:
      read: { acl: "~app:* +@read" }
`;
  it('default to 8 calls at once and 30s per call, and keep callTimeout inside the lease', () => {
    expect(parseConfig(target(''), {}, 't.yaml').targets.cache).toMatchObject({ concurrency: 8, callTimeout: 30_000 });
    expect(laneLimits(parseConfig(target('    concurrency: 2\n    callTimeout: 5s'), {}, 't.yaml').targets.cache!)).toEqual({
      concurrency: 2,
      callTimeoutMs: 5000,
    });
    expect(() => parseConfig(target('    callTimeout: 55s'), {}, 't.yaml')).toThrow(/targets\.cache\.callTimeout: must be between 1s and 50s/);
    expect(() => parseConfig(target('    concurrency: 0'), {}, 't.yaml')).toThrow(/targets\.cache\.concurrency/);
    // A target built without the loader gets the defaults, and never a timeout past the lease.
    expect(laneLimits({ name: 'x', type: 'redis', entitlements: {}, callTimeout: 120_000 })).toEqual({ concurrency: 8, callTimeoutMs: 50_000 });
  });
});

// ---- real targets -------------------------------------------------------------------------------------

const PG_PW = `adm-${randomBytes(12).toString('hex')}`;
const HG_KEY = randomBytes(32).toString('base64');

let pgServer: PostgresServer;
let redis: RedisServer;
let su: pg.Client;
let handle: StoreHandle;

const yaml = (opts: { withDb?: boolean } = {}) => {
  const withDb = opts.withDb ?? true;
  return `
server: { listen: 127.0.0.1:0 }
credentials:
  key: \${HG_KEY}
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: bob, groups: [developers], apiTokens: [{ sha256: ${tokenHash('bob')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
${
  withDb
    ? `  app-db:
    type: postgres
    url: postgres://hourglass:\${PG_PW}@127.0.0.1:${pgServer.port}/${pgServer.database}
    concurrency: 2
    callTimeout: 1s
    provisioningTimeout: 1h
    revocationAlertAfter: 1m
    reconcile: { interval: 0 }
    entitlements:
      read: { roles: [app_read] }
`
    : ''
}  cache:
    type: redis
    url: redis://hourglass:\${REDIS_PW}@127.0.0.1:${redis.port}
    reconcile: { interval: 0 }
    entitlements:
      read: { acl: "~app:* +@read" }
  builtin:
    type: hourglass
    entitlements:
      use: {}
policies:
  - name: dev
    subjects: { groups: [developers] }
    entitlements: [${withDb ? 'app-db/read, ' : ''}cache/read, builtin/use]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
};
const env = () => ({ PG_PW, HG_KEY, REDIS_PW: redis.adminPassword });

beforeAll(async () => {
  [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
  su = new pg.Client({ connectionString: pgServer.url });
  await su.connect();
  for (const q of appReadTargetSql(PG_PW)) await su.query(q);
  handle = await freshStoreUrl('sqlite');
}, 60_000);
afterAll(async () => {
  await su?.end();
  await Promise.all([pgServer?.stop(), redis?.stop()]);
  await handle?.cleanup();
});

let h: Awaited<ReturnType<typeof createHttpHarness>> | undefined;
let connectors: ConnectorRegistry | undefined;
afterEach(async () => {
  await connectors?.closeAll();
  await h?.close();
  h = undefined;
  connectors = undefined;
});

async function harness() {
  h = await createHttpHarness({ yaml: yaml(), storeUrl: handle.url, now: Date.now(), env: env() });
  connectors = createConnectorRegistry(h.source, connectorFactories);
  return h;
}

/** The target's roles made for one request (its id is in the role's comment). */
const rolesOf = async (id: string) =>
  (await su.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hg\\_%' AND shobj_description(oid, 'pg_authid') LIKE '%' || $1 || '%'", [id])).rows;
const hgRoles = async () => (await su.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hg\\_%'")).rows.map((r) => r.rolname as string);
/** As stored: the API does not show accessError. */
const stored = async (id: string) => (await h!.store.transaction((tx) => tx.getRequest(id)))!;

async function hgRedisUsers(): Promise<string[]> {
  const c = rootClient(redis);
  try {
    return ((await c.call('ACL', 'USERS')) as string[]).filter((u) => u.startsWith('hg_'));
  } finally {
    c.disconnect();
  }
}

describe('a target whose calls hang', () => {
  it('does not hold up expiry or another target: the Redis grant ends on time while the PostgreSQL GRANT waits on a lock', async () => {
    const h = await harness();
    const get = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
    const events = async (type: string, id: string) => (await h.call('GET', `/v1/audit?type=${type}&requestId=${id}`, token('admin'))).body.events;
    const access = new AccessWork(h.app.deps, { connectors: connectors!, random: () => 0.5, detached: true });
    const scheduler = new Scheduler(h.app, () => 50, pino({ level: 'silent' }), [access]);
    /** One pass, timed: it must never wait on a target. */
    const pass = async () => {
      const started = Date.now();
      await scheduler.runOnce();
      expect(Date.now() - started).toBeLessThan(1500); // the hung GRANT alone takes 10 s (lock_timeout)
    };
    const until = async (what: () => Promise<boolean>, ms = 5000) => {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
        await pass();
        if (await what()) return;
      }
      throw new Error(`timed out: ${what.toString()}`);
    };

    const cache = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['cache/read'], duration: '10m' })).body;
    await until(async () => (await get(cache.id)).access === 'present');
    expect(await hgRedisUsers()).toHaveLength(1);

    // Another session holds a lock GRANT needs: the PostgreSQL grant hangs (up to the connector's lock_timeout).
    const locker = new pg.Client({ connectionString: pgServer.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pg_auth_members IN EXCLUSIVE MODE');
    let db: { id: string };
    try {
      db = (await h.call('POST', '/v1/requests', token('bob'), { entitlements: ['app-db/read'], duration: '1h' })).body;
      await until(async () => access.callsInFlight('app-db') === 1);

      // The Redis grant runs out meanwhile: status at once, access within a pass or two.
      h.clock.advance(10 * 60_000 + 1000);
      const expiredAt = Date.now();
      await pass();
      expect(await get(cache.id)).toMatchObject({ status: 'expired' });
      await until(async () => (await get(cache.id)).access === 'removed');
      expect(Date.now() - expiredAt).toBeLessThan(3000);
      expect(await hgRedisUsers()).toEqual([]);
      expect(await events('grant.access_removed', cache.id)).toHaveLength(1);
      expect(await get(db.id)).toMatchObject({ status: 'scheduled', access: 'provisioning' });

      // The stuck grant times out (callTimeout 1s) and is retried; its revocation waits on the same
      // lock, stays `removing`, and raises the overdue alert after revocationAlertAfter (1m).
      await until(async () => /callTimeout/.test((await stored(db.id)).accessError ?? ''));
      expect((await stored(db.id)).accessError).toMatch(/target "app-db": grant: no answer within 1000 ms/);
      expect((await h.call('POST', `/v1/requests/${db.id}/revoke`, token('admin'), { reason: 'done' })).status).toBe(200);
      expect(await get(db.id)).toMatchObject({ status: 'revoked', access: 'removing' });
      await until(async () => {
        h.clock.advance(31_000);
        return (await events('alert.revocation_overdue', db.id)).length > 0;
      }, 15_000);
      expect(await get(db.id)).toMatchObject({ status: 'revoked', access: 'removing' });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }

    // The lock is gone: a grant that was still waiting commits, and the removal after it takes it away.
    await until(async () => {
      h.clock.advance(31_000);
      return (await get(db.id)).access === 'removed';
    }, 15_000);
    await access.idle();
    expect(await hgRoles()).toEqual([]);
    expect(await events('alert.revocation_overdue', db.id)).toHaveLength(1);
    expect(await h.store.getCredentials(db.id)).toEqual([]);
    await scheduler.stop();
  }, 60_000);
});

describe('a target that is no longer configured', () => {
  it('fails removal there with an error naming it, revokes the other targets, alerts, and finishes once it is back', async () => {
    const h = await harness();
    const get = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
    const events = async (type: string, id: string) => (await h.call('GET', `/v1/audit?type=${type}&requestId=${id}`, token('admin'))).body.events;
    const work = new AccessWork(h.app.deps, { connectors: connectors!, random: () => 0.5 });

    // The built-in kind still works inline, alone and beside a connector target.
    const inline = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['builtin/use'], duration: '1h' })).body;
    expect(inline).toMatchObject({ status: 'active', access: 'present' });

    const redisBefore = (await hgRedisUsers()).length;
    const req = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['app-db/read', 'cache/read', 'builtin/use'], duration: '1h' })).body;
    await work.runOnce();
    expect(await get(req.id)).toMatchObject({ status: 'active', access: 'present' });
    expect(await rolesOf(req.id)).toHaveLength(1);
    expect(await hgRedisUsers()).toHaveLength(redisBefore + 1);

    // A restart with an edited file: app-db is gone from the configuration.
    const full = h.config;
    h.source.set(configFromYaml(yaml({ withDb: false }), handle.url, env()));
    await h.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), { reason: 'done' });
    await work.runOnce();
    const stuck = await stored(req.id);
    expect(stuck).toMatchObject({ status: 'revoked', access: 'removing' });
    expect(stuck.accessError).toMatch(/target "app-db" is not in the configuration: cannot remove the access there/);
    expect(await events('grant.access_removed', req.id)).toEqual([]);
    expect(await hgRedisUsers()).toHaveLength(redisBefore); // the other target is revoked all the same
    expect(await rolesOf(req.id)).toHaveLength(1); // the role really is still there

    for (let i = 0; i < 11; i++) {
      h.clock.advance(31_000); // past the default revocationAlertAfter (5m), retrying with backoff
      await work.runOnce();
    }
    expect(await get(req.id)).toMatchObject({ access: 'removing' });
    expect(await events('alert.revocation_overdue', req.id)).toHaveLength(1);

    h.source.set(full);
    h.clock.advance(31_000);
    await work.runOnce();
    expect(await get(req.id)).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(await rolesOf(req.id)).toEqual([]);
    expect(await events('grant.access_removed', req.id)).toHaveLength(1);
    expect(await h.store.getCredentials(req.id)).toEqual([]);
  }, 60_000);

  it('fails provisioning there too, naming the target, instead of activating without it', async () => {
    const h = await harness();
    const work = new AccessWork(h.app.deps, { connectors: connectors!, random: () => 0.5 });
    const redisBefore = (await hgRedisUsers()).length;
    const req = (await h.call('POST', '/v1/requests', token('bob'), { entitlements: ['app-db/read', 'cache/read'], duration: '1h' })).body;
    h.source.set(configFromYaml(yaml({ withDb: false }), handle.url, env()));
    await work.runOnce();
    const r = await stored(req.id);
    expect(r).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    expect(r.accessError).toMatch(/target "app-db" is not in the configuration: cannot create the access there/);
    // Clean up: the Redis user it did create goes with the request.
    await h.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), {});
    h.source.set(configFromYaml(yaml(), handle.url, env()));
    h.clock.advance(61_000);
    await work.runOnce();
    expect(await hgRedisUsers()).toHaveLength(redisBefore);
  }, 30_000);
});

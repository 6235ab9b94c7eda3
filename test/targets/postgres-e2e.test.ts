/**
 * Grants made real on a real PostgreSQL, end to end through the API: provisioning, credentials,
 * login with only the granted rights, expiry that refuses new logins and ends live sessions,
 * provisioning that fails for good, revocation that keeps failing (retries, overdue alert),
 * and drift reconciliation.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { createConnectorRegistry } from '../../src/adapters/connectors/registry.js';
import { AccessWork } from '../../src/app/access-work.js';
import { Reconciler } from '../../src/app/reconcile.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { tokenHash } from '../fixtures/policies.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const ADMIN_PW = `adm-${randomBytes(12).toString('hex')}`;
const env = { PG_ADMIN_PW: ADMIN_PW, HG_KEY: randomBytes(32).toString('base64') };

const yaml = (port: number, db: string, password = '${PG_ADMIN_PW}') => `
server: { listen: 127.0.0.1:0 }
credentials:
  key: \${HG_KEY}
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: bob, groups: [developers], apiTokens: [{ sha256: ${tokenHash('bob')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: app, roles: [checker], apiTokens: [{ sha256: ${tokenHash('app')} }] }
targets:
  app-db:
    type: postgres
    url: postgres://hourglass:${password}@127.0.0.1:${port}/${db}
    provisioningTimeout: 10s
    revocationAlertAfter: 1m
    reconcile: { interval: 1m }
    entitlements:
      read: { roles: [app_read] }
      broken: { roles: [no_such_role] }
policies:
  - name: dev-db
    subjects: { groups: [developers] }
    entitlements: [app-db/read, app-db/broken]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;

let server: PostgresServer;
let handle: StoreHandle;
let h: Awaited<ReturnType<typeof createHttpHarness>>;
let work: AccessWork;
let reconciler: Reconciler;
let su: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
  su = new pg.Client({ connectionString: server.url });
  await su.connect();
  for (const q of appReadTargetSql(ADMIN_PW)) await su.query(q);
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: yaml(server.port, server.database), storeUrl: handle.url, now: Date.now(), env });
  const connectors = createConnectorRegistry(h.source, connectorFactories);
  work = new AccessWork(h.app.deps, { connectors, random: () => 0.5 });
  reconciler = new Reconciler(h.app.deps, connectors);
});
afterAll(async () => {
  await h?.close();
  await handle?.cleanup();
  await su?.end();
  await server?.stop();
});

const submit = (who: string, body: Record<string, unknown>) => h.call('POST', '/v1/requests', token(who), body);
const get = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
const events = async (type: string) => (await h.call('GET', `/v1/audit?type=${type}`, token('admin'))).body.events;

async function login(creds: { username: string; password: string }) {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, database: server.database, user: creds.username, password: creds.password });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('postgres target end to end', () => {
  it('provisions after commit, hands credentials to the requester only, and takes access away on expiry', async () => {
    const res = await submit('alice', { entitlements: ['app-db/read'], duration: '1h' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    expect((await h.call('POST', `/v1/requests/${res.body.id}/credentials`, token('alice'))).status).toBe(409);

    await work.runOnce();
    expect(await get(res.body.id)).toMatchObject({ status: 'active', access: 'present' });

    expect((await h.call('POST', `/v1/requests/${res.body.id}/credentials`, token('bob'))).status).toBe(404);
    const creds = await h.call('POST', `/v1/requests/${res.body.id}/credentials`, token('alice'));
    expect(creds.status).toBe(200);
    expect(creds.headers['cache-control']).toBe('no-store');
    const c = creds.body.targets['app-db'];
    expect(c).toMatchObject({ host: '127.0.0.1', port: server.port, database: server.database });
    expect((await events('credentials.retrieved')).map((e: { requestId: string }) => e.requestId)).toEqual([res.body.id]);
    // Kept encrypted at rest: the password is nowhere in the store's credentials table.
    const stored = await h.store.getCredentials(res.body.id);
    expect(JSON.stringify(stored)).not.toContain(c.password);

    const session = await login(c);
    expect((await session.query('SELECT name FROM items')).rows).toEqual([{ name: 'one' }]);
    await expect(session.query("INSERT INTO items VALUES (2, 'two')")).rejects.toMatchObject({ code: '42501' });

    h.clock.advance(3_600_000);
    expect((await h.call('GET', `/v1/check?principal=alice&entitlement=app-db/read`, token('app'))).body.allowed).toBe(false);
    await h.app.due.runDue();
    expect(await get(res.body.id)).toMatchObject({ status: 'expired', access: 'removing' });
    await work.runOnce();
    expect(await get(res.body.id)).toMatchObject({ status: 'expired', access: 'removed' });
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await expect(login(c)).rejects.toMatchObject({ code: '28P01' });
    expect(await h.store.getCredentials(res.body.id)).toEqual([]);
  });

  it('provisioning that keeps failing ends the request failed, with a scrubbed error, and leaves nothing behind', async () => {
    const res = await submit('alice', { entitlements: ['app-db/broken'], duration: '1h' });
    await work.runOnce();
    const retrying = await get(res.body.id);
    expect(retrying).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    h.clock.advance(11_000);
    await work.runOnce();
    const failed = await get(res.body.id);
    expect(failed).toMatchObject({ status: 'failed', access: 'removing' });
    expect(failed.error).toMatch(/provisioning failed/);
    expect(failed.error).not.toContain(ADMIN_PW);
    await work.runOnce();
    expect(await get(res.body.id)).toMatchObject({ status: 'failed', access: 'removed' });
    const audit = JSON.stringify((await h.call('GET', `/v1/audit?requestId=${res.body.id}`, token('admin'))).body);
    expect(audit).not.toContain(ADMIN_PW);
    const left = await su.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hg\\_%'");
    expect(left.rows).toEqual([]);
  });

  it('revocation that keeps failing is retried for ever, raises one overdue alert, and completes when the target is back', async () => {
    const res = await submit('bob', { entitlements: ['app-db/read'], duration: '1h' });
    await work.runOnce();
    const c = (await h.call('POST', `/v1/requests/${res.body.id}/credentials`, token('bob'))).body.targets['app-db'];
    // The target becomes unreachable for Hourglass (its admin password no longer works).
    const good = h.config;
    h.source.set(configFromYaml(yaml(server.port, server.database, 'wrong-password'), handle.url, env));
    await h.call('POST', `/v1/requests/${res.body.id}/release`, token('bob'));
    for (let i = 0; i < 4; i++) {
      await work.runOnce();
      h.clock.advance(31_000);
    }
    const stuck = await get(res.body.id);
    expect(stuck).toMatchObject({ status: 'revoked', access: 'removing' });
    expect((await h.call('GET', `/v1/check?principal=bob&entitlement=app-db/read`, token('app'))).body.allowed).toBe(false);
    expect(await events('alert.revocation_overdue')).toHaveLength(1);

    h.source.set(good);
    h.clock.advance(31_000);
    await work.runOnce();
    expect(await get(res.body.id)).toMatchObject({ status: 'revoked', access: 'removed' });
    await expect(login(c)).rejects.toMatchObject({ code: '28P01' });
    expect(await events('alert.revocation_overdue')).toHaveLength(1);
  });

  it('reconciliation removes accounts no live grant explains and reports missing access', async () => {
    const live = await submit('alice', { entitlements: ['app-db/read'], duration: '1h' });
    await work.runOnce();
    const connector = createConnectorRegistry(h.source, connectorFactories).forTarget('app-db')!;
    await connector.grant({
      requestId: 'req_00000000000000000000000000',
      principal: 'mallory',
      target: h.config.targets['app-db']!,
      entitlements: [{ name: 'read', config: { roles: ['app_read'] } }],
      expiresAt: Date.now() + 3_600_000,
    });
    // Someone cuts the live grant's role membership by hand.
    const account = (await connector.reconciliation!.list()).find((f) => f.requestId === live.body.id)!.account;
    await su.query(`REVOKE app_read FROM "${account}"`);
    await connector.close();

    const report = await reconciler.reconcileTarget('app-db');
    expect(report.orphansRemoved).toHaveLength(1);
    expect(report.missing).toEqual([{ requestId: live.body.id, missing: ['app_read'] }]);
    expect((await events('drift.orphan_removed')).length).toBe(1);
    expect((await events('drift.access_missing')).length).toBe(1);
    // Not silently re-added, and reported once.
    const again = await reconciler.reconcileTarget('app-db');
    expect(again.missing).toEqual([]);
    const roles = await su.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [account],
    );
    expect(roles.rows).toEqual([]);
  });
});

describe('overdue-revocation threshold', () => {
  it('follows revocationAlertAfter beyond five minutes', async () => {
    const res = await submit('bob', { entitlements: ['app-db/read'], duration: '1h' });
    await work.runOnce();
    const good = h.config;
    const slow = (pw?: string) => yaml(server.port, server.database, pw).replace('revocationAlertAfter: 1m', 'revocationAlertAfter: 10m');
    h.source.set(configFromYaml(slow('wrong-password'), handle.url, env));
    const before = (await events('alert.revocation_overdue')).length;
    await h.call('POST', `/v1/requests/${res.body.id}/release`, token('bob'));
    for (let i = 0; i < 12; i++) {
      await work.runOnce();
      h.clock.advance(31_000); // six minutes in all: past five, short of ten
    }
    expect(await get(res.body.id)).toMatchObject({ access: 'removing' });
    expect((await events('alert.revocation_overdue')).length).toBe(before);
    h.source.set(good);
    h.clock.advance(31_000);
    await work.runOnce();
    expect(await get(res.body.id)).toMatchObject({ access: 'removed' });
  });
});

describe('reconciliation with removeExtraPrivileges', () => {
  it('takes away a role granted by hand beyond the grant, keeping the grant itself working', async () => {
    await su.query('CREATE ROLE app_admin NOLOGIN');
    const trimming = yaml(server.port, server.database).replace('reconcile: { interval: 1m }', 'reconcile: { interval: 1m, removeExtraPrivileges: true }');
    const before = h.config;
    h.source.set(configFromYaml(trimming, handle.url, env));
    try {
      const res = await submit('alice', { entitlements: ['app-db/read'], duration: '1h' });
      await work.runOnce();
      const c = (await h.call('POST', `/v1/requests/${res.body.id}/credentials`, token('alice'))).body.targets['app-db'];
      const connectors = createConnectorRegistry(h.source, connectorFactories);
      const account = (await connectors.forTarget('app-db')!.reconciliation!.list()).find((f) => f.requestId === res.body.id)!.account;
      await su.query(`GRANT app_admin TO "${account}"`);
      const report = await new Reconciler(h.app.deps, connectors).reconcileTarget('app-db');
      await connectors.closeAll();
      expect(report.extra).toEqual([{ requestId: res.body.id, account, extra: ['app_admin'], trimmed: true }]);
      const held = await su.query(
        `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
        [account],
      );
      expect(held.rows.map((r) => r.rolname)).toEqual(['app_read']);
      const session = await login(c);
      expect((await session.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBeGreaterThan(0);
      await session.end();
      expect((await events('drift.extra_privileges'))[0].details).toMatchObject({ target: 'app-db', extra: ['app_admin'], removed: true });
    } finally {
      h.source.set(before);
    }
  });
});

describe('several servers', () => {
  it('two access workers never work on the same request at once: one account each, credentials that work', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await submit('bob', { entitlements: ['app-db/read'], duration: '1h' })).body.id);
    const other = new AccessWork(h.app.deps, { connectors: createConnectorRegistry(h.source, connectorFactories), random: () => 0.5 });
    await Promise.all([work.runOnce(), other.runOnce()]);
    for (const id of ids) {
      expect(await get(id)).toMatchObject({ status: 'active', access: 'present' });
      const activated = (await h.call('GET', `/v1/audit?requestId=${id}&type=grant.activated`, token('admin'))).body.events;
      expect(activated).toHaveLength(1);
      const c = (await h.call('POST', `/v1/requests/${id}/credentials`, token('bob'))).body.targets['app-db'];
      const s = await login(c);
      await s.end();
      await h.call('POST', `/v1/requests/${id}/release`, token('bob'));
    }
    await Promise.all([work.runOnce(), other.runOnce()]);
    for (const id of ids) expect(await get(id)).toMatchObject({ access: 'removed' });
  });
});

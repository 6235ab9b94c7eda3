/**
 * Faults with three real `hourglass serve` processes on one PostgreSQL store, with a PostgreSQL
 * target (each grant is a real `hg_` role):
 *
 * - kill -9 one server while 1,000 grants are ending: every grant ends exactly once, every role
 *   is dropped (the dead server's leases are taken over), the audit chain verifies, and the
 *   killed server restarts and catches up;
 * - conflicting decisions sent to different servers at the same moment end in exactly one legal
 *   outcome each.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const GRANTS = 1000;
const PRINCIPALS = 100;
const ENTITLEMENTS = GRANTS / PRINCIPALS;
const ADMIN_PW = `adm-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
const token = (id: string) => `${id}-demo-token`;
const user = (i: number) => `u${String(i).padStart(3, '0')}`;

function configYaml(storeUrl: string, target: PostgresServer): string {
  const principals = Array.from({ length: PRINCIPALS }, (_, i) => `  - { id: ${user(i)}, groups: [staff], apiTokens: [{ sha256: ${tokenHash(user(i))} }] }`);
  const entitlements = Array.from({ length: ENTITLEMENTS }, (_, e) => `      r${e}: { roles: [app_read] }`);
  return `
server:
  store: ${storeUrl}
  rateLimit: { perMinute: 0 }
credentials:
  key: ${KEY}
principals:
${principals.join('\n')}
  - { id: lead, groups: [leads], apiTokens: [{ sha256: ${tokenHash('lead')} }] }
  - { id: lead2, groups: [leads], apiTokens: [{ sha256: ${tokenHash('lead2')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: app, roles: [checker], apiTokens: [{ sha256: ${tokenHash('app')} }] }
targets:
  app-db:
    type: postgres
    url: postgres://hourglass:${ADMIN_PW}@127.0.0.1:${target.port}/${target.database}
    reconcile: { interval: 0 }
    entitlements:
${entitlements.join('\n')}
      gated: { roles: [app_read] }
policies:
  - name: staff
    subjects: { groups: [staff] }
    entitlements: [${Array.from({ length: ENTITLEMENTS }, (_, e) => `app-db/r${e}`).join(', ')}]
    minDuration: 1s
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
  - name: gated
    subjects: { groups: [staff] }
    entitlements: [app-db/gated]
    maxDuration: 1h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
`;
}

async function api<T = Record<string, unknown>>(base: string, method: string, path: string, who: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token(who)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Every audit event of `type`, page by page. */
async function eventsOf(base: string, type: string): Promise<{ requestId: string; at: string }[]> {
  const out: { requestId: string; at: string }[] = [];
  let cursor: number | null = null;
  do {
    const page: { body: { events: { requestId: string; at: string }[]; nextCursor: number | null } } = await api(
      base,
      'GET',
      `/v1/audit?type=${type}&limit=1000${cursor !== null ? `&cursor=${cursor}` : ''}`,
      'admin',
    );
    out.push(...page.body.events);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return out;
}

/** Runs `fn` over `items`, `n` at a time. */
async function inParallel<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

describe('three servers on one PostgreSQL', () => {
  let db: PostgresServer;
  let su: pg.Client;
  const servers: SpawnedServer[] = [];
  let storeUrl: string;
  const hgRoles = async () => Number((await su.query("SELECT count(*) AS n FROM pg_roles WHERE rolname LIKE 'hg\\_%'")).rows[0].n);

  beforeAll(async () => {
    db = await startPostgres({ settings: { max_connections: 300 } });
    su = new pg.Client({ connectionString: db.url });
    await su.connect();
    for (const q of appReadTargetSql(ADMIN_PW)) await su.query(q);
    await su.query('CREATE DATABASE hg_store');
    storeUrl = db.adminUrl.replace(/\/postgres$/, '/hg_store');
    const yaml = configYaml(storeUrl, db);
    // Started together: the migrations run once, whoever comes first.
    servers.push(...(await Promise.all([0, 1, 2].map(() => spawnServer({ configYaml: yaml })))));
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await su?.end();
    await db?.stop();
  });

  it('kill -9 of one server while 1,000 grants end: each ends once, every role is dropped, the chain verifies, the killed server catches up', async () => {
    const pairs = Array.from({ length: GRANTS }, (_, i) => ({ who: user(i % PRINCIPALS), entitlement: `app-db/r${Math.floor(i / PRINCIPALS)}` }));
    const ids: string[] = [];
    await inParallel(pairs, 12, async ({ who, entitlement }, i) => {
      const r = await api<{ id: string; status: string }>(servers[i % 3]!.url, 'POST', '/v1/requests', who, { entitlements: [entitlement], duration: '45s' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids.push(r.body.id);
    });
    // Every grant on the target first, so that ending them means dropping real roles.
    await expect.poll(hgRoles, { timeout: 45_000, interval: 250 }).toBe(GRANTS);
    const check = async (base: string, i: number) =>
      (await api<{ allowed: boolean }>(base, 'GET', `/v1/check?principal=${pairs[i]!.who}&entitlement=${pairs[i]!.entitlement}`, 'app')).body.allowed;
    expect(await check(servers[1]!.url, 0)).toBe(true);

    // Kill one server once the first grants have ended, at a moment it holds removals in work.
    await expect.poll(async () => (await eventsOf(servers[0]!.url, 'grant.expired')).length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(50);
    const victim = ((await (await fetch(`${servers[1]!.url}/readyz`)).json()) as { server: string }).server;
    const store = new pg.Client({ connectionString: storeUrl });
    await store.connect();
    const holds = async () => Number((await store.query('SELECT count(*) AS n FROM requests WHERE lease_owner = $1', [victim])).rows[0].n);
    await expect.poll(holds, { timeout: 20_000, interval: 2 }).toBeGreaterThan(0);
    await servers[1]!.kill('SIGKILL');
    const orphaned = await holds();

    await expect.poll(hgRoles, { timeout: 60_000, interval: 250 }).toBe(0);
    expect(orphaned, 'the killed server held no lease when it died').toBeGreaterThan(0);
    expect(await holds()).toBe(0);
    await store.end();
    const expired = await eventsOf(servers[0]!.url, 'grant.expired');
    const removed = await eventsOf(servers[0]!.url, 'grant.access_removed');
    expect(expired).toHaveLength(GRANTS);
    expect(new Set(expired.map((e) => e.requestId))).toEqual(new Set(ids));
    await expect.poll(async () => (await eventsOf(servers[2]!.url, 'grant.access_removed')).length, { timeout: 30_000 }).toBe(GRANTS);
    expect(new Set(removed.map((e) => e.requestId)).size).toBe(removed.length);
    // Each role went soon after its grant ended, those the killed server was removing included:
    // its leases (60 s) were taken over once it stopped saying it was alive (3 s).
    const endedAt = new Map(expired.map((e) => [e.requestId, Date.parse(e.at)]));
    const lag = (await eventsOf(servers[0]!.url, 'grant.access_removed')).map((e) => Date.parse(e.at) - endedAt.get(e.requestId)!);
    expect(Math.max(...lag)).toBeLessThan(15_000);
    for (const i of [0, 500, 999]) expect(await check(servers[2]!.url, i)).toBe(false);
    const verify = await api<{ ok: boolean; count: number }>(servers[0]!.url, 'GET', '/v1/audit/verify', 'admin');
    expect(verify.body).toMatchObject({ ok: true });

    // The killed server comes back, catches up, and answers as the others do.
    await servers[1]!.restart();
    const seqOf = async (s: SpawnedServer) => ((await (await fetch(`${s.url}/readyz`)).json()) as { checks: { seq: number } }).checks.seq;
    await expect.poll(async () => (await seqOf(servers[1]!)) >= (await seqOf(servers[0]!)) - 5, { timeout: 10_000 }).toBe(true);
    for (const i of [0, 500, 999]) expect(await check(servers[1]!.url, i)).toBe(false);
    const again = await api<{ ok: boolean }>(servers[1]!.url, 'GET', '/v1/audit/verify', 'admin');
    expect(again.body).toMatchObject({ ok: true });
  }, 240_000);

  it('an approve and a deny of the same request sent to two servers at once: exactly one wins, and the log has that one decision', async () => {
    const requests: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await api<{ id: string; status: string }>(servers[i % 3]!.url, 'POST', '/v1/requests', user(i), {
        entitlements: ['app-db/gated'],
        duration: '1h',
      });
      expect(r.body.status).toBe('pending');
      requests.push(r.body.id);
    }
    for (const [i, id] of requests.entries()) {
      const [approve, deny] = await Promise.all([
        api(servers[i % 3]!.url, 'POST', `/v1/requests/${id}/approve`, 'lead', {}),
        api(servers[(i + 1) % 3]!.url, 'POST', `/v1/requests/${id}/deny`, 'lead2', { comment: 'no' }),
      ]);
      const statuses = [approve.status, deny.status].sort();
      expect(statuses, JSON.stringify([approve.body, deny.body])).toEqual([200, 409]);
      const final = await api<{ status: string }>(servers[(i + 2) % 3]!.url, 'GET', `/v1/requests/${id}`, 'admin');
      // Approved: active once the role exists on the target (scheduled until then).
      expect(final.body.status).toMatch(approve.status === 200 ? /^(scheduled|active)$/ : /^denied$/);
    }
    const approved = (await eventsOf(servers[0]!.url, 'request.approved')).filter((e) => requests.includes(e.requestId));
    const denied = (await eventsOf(servers[0]!.url, 'request.denied')).filter((e) => requests.includes(e.requestId));
    expect(approved.length + denied.length).toBe(requests.length);
    expect(new Set([...approved, ...denied].map((e) => e.requestId)).size).toBe(requests.length);
    // The approved ones are on the target; revoking them from two servers at once ends each once.
    const active = approved.map((e) => e.requestId);
    for (const id of active) {
      await expect
        .poll(async () => (await api<{ status: string }>(servers[0]!.url, 'GET', `/v1/requests/${id}`, 'admin')).body.status, { timeout: 20_000 })
        .toBe('active');
    }
    await inParallel(active, 4, async (id, i) => {
      const [a, b] = await Promise.all([
        api(servers[i % 3]!.url, 'POST', `/v1/requests/${id}/revoke`, 'admin', { reason: 'x' }),
        api(servers[(i + 1) % 3]!.url, 'POST', `/v1/requests/${id}/revoke`, 'admin', { reason: 'y' }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
    });
    const revoked = (await eventsOf(servers[2]!.url, 'grant.revoked')).filter((e) => active.includes(e.requestId));
    expect(revoked).toHaveLength(active.length);
    await expect.poll(hgRoles, { timeout: 20_000 }).toBe(0);
  }, 120_000);
});

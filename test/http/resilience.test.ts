/**
 * Failure behaviour: a store outage is a 503, never a 500; no bad input yields a 500; a real
 * server process reloads its configuration on SIGHUP and survives a crash (kill -9).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { policiesYaml } from '../fixtures/policies.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('store outage (PostgreSQL)', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('stopped for 10 s: writes get 503, checks answer within the bound and then refuse, none wrongly allows, and all recovers by itself', async () => {
    const h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: pg.url });
    const check = (who: string) => h.call('GET', `/v1/check?principal=${who}&entitlement=db/read`, token('app'));
    const submit = () => h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
    try {
      expect((await submit()).status).toBe(201);
      const gone = await h.call('POST', '/v1/requests', token('mallory'), { entitlements: ['db/read'], duration: '1h' });
      expect((await h.call('POST', `/v1/requests/${gone.body.id}/revoke`, token('admin'), { reason: 'done' })).status).toBe(200);
      expect((await check('alice')).body.allowed).toBe(true);
      expect((await check('mallory')).body.allowed).toBe(false);

      await h.system.checkIndex.catchUp(); // confirmed now: the bound runs from here
      await pg.pause();
      const down = await submit();
      expect(down.status).toBe(503);
      expect(down.body.error).toEqual({ code: 'HG_STORE_UNAVAILABLE', message: 'the store is unavailable; retry shortly' });
      // Within the bound, checks go on from memory, and the server stays in the load balancer.
      expect((await check('alice')).body).toMatchObject({ allowed: true });
      const blip = await h.call('GET', '/readyz');
      expect(blip.status).toBe(200);
      expect(blip.body).toMatchObject({ ready: true, writable: false, store: { ok: false }, checks: { ok: true, source: 'index' } });

      // Past it, every check is refused, with the reason; the server says it is not ready.
      await expect.poll(async () => (await check('alice')).body, { timeout: 5000, interval: 100 }).toMatchObject({ allowed: false, reason: 'stale_index' });
      expect((await check('alice')).body.detail).toMatch(/has not confirmed its view of the grants for \d+\.\d s \(the limit is 2 s\)/);
      const stale = await h.call('GET', '/readyz');
      expect(stale.status).toBe(503);
      expect(stale.body).toMatchObject({ ready: false, writable: false, checks: { ok: false, error: 'store unreachable' } });
      const until = performance.now() + 7000;
      while (performance.now() < until) {
        for (const who of ['alice', 'mallory']) expect((await check(who)).body.allowed, who).toBe(false);
        await sleep(250);
      }

      await pg.resume();
      await expect.poll(async () => (await check('alice')).body, { timeout: 10_000, interval: 100 }).toMatchObject({ allowed: true });
      expect((await check('mallory')).body.allowed).toBe(false);
      await expect.poll(async () => (await submit()).status, { timeout: 10_000, interval: 200 }).toBe(201);
      const back = await h.call('GET', '/readyz');
      expect(back.body).toMatchObject({ ready: true, writable: true, checks: { ok: true, error: null } });
    } finally {
      await pg.resume().catch(() => {});
      await h.close().catch(() => {});
    }
  }, 60_000);
});

describe('bad input never yields a 500', () => {
  let h: Awaited<ReturnType<typeof createHttpHarness>>;
  let handle: StoreHandle;
  beforeAll(async () => {
    handle = await freshStoreUrl('sqlite');
    h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
  });
  afterAll(async () => {
    await h.close();
    await handle.cleanup();
  });

  it('fuzzes every route with hostile bodies and query strings', async () => {
    const id = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' })).body.id;
    const routes: [string, string][] = [
      ['POST', '/v1/requests'],
      ['GET', '/v1/requests'],
      ['GET', `/v1/requests/${id}`],
      ['GET', '/v1/requests/%00%ff'],
      ...['approve', 'deny', 'cancel', 'revoke', 'release', 'extend', 'review'].map((a): [string, string] => ['POST', `/v1/requests/${id}/${a}`]),
      ['GET', '/v1/check'],
      ['GET', '/v1/grants'],
      ['GET', '/v1/audit'],
      ['GET', '/v1/audit/verify'],
      ['POST', '/v1/principals/alice/lock'],
      ['POST', '/v1/targets/db/freeze'],
      ['POST', '/v1/reload'],
    ];
    const bodies: unknown[] = [
      null,
      [],
      'text',
      42,
      true,
      { entitlements: null },
      { entitlements: [{}] },
      { entitlements: ['a/b'], duration: -1 },
      { entitlements: ['db/read'], duration: '99999999999d' },
      { entitlements: ['db/read'], startAt: '2026-02-30T25:00:00Z' },
      { comment: { $gt: '' } },
      { reason: ['x'] },
      { duration: '1h'.repeat(20) },
      { __proto__: { admin: true } },
      { constructor: { prototype: { x: 1 } } },
    ];
    const queries = [
      '?limit=-1',
      '?limit=abc',
      '?limit=99999',
      '?status=bogus',
      '?cursor=%ff',
      '?since=yesterday',
      '?principal=&entitlement=',
      '?expectHead=1:zz',
      '?a[b]=c',
      '?mine=maybe',
    ];
    for (const who of ['alice', 'admin']) {
      for (const [method, url] of routes) {
        for (const body of method === 'POST' ? bodies : [undefined]) {
          for (const q of method === 'GET' ? queries : ['']) {
            const res = await h.server.inject({
              method: method as 'GET',
              url: url + q,
              headers: { authorization: `Bearer ${token(who)}`, 'content-type': 'application/json' },
              ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
            });
            expect(res.statusCode, `${who} ${method} ${url}${q} ${JSON.stringify(body)} -> ${res.body}`).toBeLessThan(500);
            expect(JSON.parse(res.body)).toBeTypeOf('object');
          }
        }
      }
    }
  });
});

describe('a real server process', () => {
  let server: SpawnedServer;
  beforeAll(async () => {
    server = await spawnServer({ configYaml: policiesYaml().replace(/\n {2}store: .*\n/, '\n') });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const api = async (method: string, path: string, who: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token(who)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('reloads on SIGHUP: new decisions use the new file, a bad file is refused and the old one kept', async () => {
    const before = await api('POST', '/v1/requests', 'alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' });
    expect(before.body.status).toBe('pending');
    const original = readFileSync(server.configPath, 'utf8');
    const doc = parseDocument(original);
    expect(doc.getIn(['policies', 3, 'name'])).toBe('dev-admin');
    doc.setIn(['policies', 3, 'approval'], doc.createNode({ required: 0 }));
    writeFileSync(server.configPath, doc.toString());
    process.kill(server.pid()!, 'SIGHUP');
    let after;
    for (let i = 0; i < 40; i++) {
      await sleep(50);
      after = await api('POST', '/v1/requests', 'alice', { entitlements: ['db/admin'], duration: '1h', reason: 'y' });
      if (after.body.status === 'active') break;
    }
    expect(after!.body.status).toBe('active');
    expect(after!.body.policyHash).not.toBe(before.body.policyHash);
    expect((await api('GET', `/v1/requests/${before.body.id}`, 'alice')).body.status).toBe('pending');

    writeFileSync(server.configPath, 'policies: [ {');
    process.kill(server.pid()!, 'SIGHUP');
    await sleep(300);
    expect(server.stderr()).toMatch(/reload refused, keeping the old configuration/);
    expect((await api('GET', '/v1/me', 'alice')).status).toBe(200);
    const reloads = await api('GET', '/v1/audit?type=config.reloaded', 'auditor');
    expect(reloads.body.events).toHaveLength(1);
    writeFileSync(server.configPath, original);
  });

  it('after kill -9 the restarted server still ends what was due, and the chain verifies', async () => {
    const g = await api('POST', '/v1/requests', 'alice', { entitlements: ['db/read'], duration: '1s' });
    expect(g.body.status).toBe('active');
    await server.kill('SIGKILL');
    await sleep(1200);
    await server.restart();
    let status = '';
    for (let i = 0; i < 40 && status !== 'expired'; i++) {
      await sleep(50);
      status = (await api('GET', `/v1/requests/${g.body.id}`, 'alice')).body.status;
    }
    expect(status).toBe('expired');
    expect((await api('GET', '/v1/audit/verify', 'auditor')).body).toMatchObject({ ok: true });
  });
});

/**
 * The outbox on both stores: fan-out by cursor (idempotent, safe from several servers at once),
 * claims with a lease (disjoint between servers), and the guarded finish. On PostgreSQL two
 * stores over one database stand for two servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookService, createWebhookWorker } from '../../src/adapters/outbound/webhook-worker.js';
import { openStore, type OpenedStore } from '../../src/adapters/store/open-store.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { createIds } from '../../src/adapters/system.js';
import type { AppDeps } from '../../src/app/context.js';
import type { WebhookSender } from '../../src/app/webhooks.js';
import { configFromYaml, freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { SECRET_A, SECRET_B, startReceiver, webhookYaml, type Receiver } from './support.js';

const EVENTS = 30;

describe.each<Dialect>(['sqlite', 'postgres'])('webhook outbox: %s', (dialect) => {
  let handle: StoreHandle;
  let stores: KyselyStore[];
  let opened: OpenedStore[];
  let rx: Receiver;
  const clock = new ManualClock(T0);

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    rx = await startReceiver();
    const first = await openStore(handle.url, { cwd: '.' });
    // SQLite serves one server; PostgreSQL gets a second "server" over the same database.
    opened = dialect === 'postgres' ? [first, await openStore(handle.url, { cwd: '.' })] : [first, first];
    stores = opened.map((o) => o.store);
  });
  afterAll(async () => {
    for (const s of new Set(opened ?? [])) await s.close();
    await rx?.close();
    await handle?.cleanup();
  });

  const config = () =>
    configFromYaml(
      webhookYaml(
        [
          { name: 'a', url: `${rx.url}/a`, secret: SECRET_A, events: ['test.*'] },
          { name: 'b', url: `${rx.url}/b`, secret: SECRET_B, events: ['*'] },
        ],
        ['127.0.0.1'],
      ),
      handle.url,
    );
  const depsOf = (store: KyselyStore): AppDeps => {
    const c = config();
    return { store, clock, ids: createIds(clock), config: { current: () => c } };
  };
  /** The outbox beside a store (its role port from openStore). */
  const outboxOf = (store: KyselyStore) => opened[stores.indexOf(store)]!.webhooks;
  const count = async (where?: string) => {
    let q = stores[0]!.db.selectFrom('webhook_outbox').select((eb) => eb.fn.countAll<number>().as('n'));
    if (where) q = q.where('endpoint', '=', where);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  it('two servers fanning out at once write each (endpoint, event) once and agree on the cursor', async () => {
    await stores[0]!.transaction((tx) =>
      tx.appendAudit(
        Array.from({ length: EVENTS }, (_, i) => ({ id: `ev-${i}`, at: T0, type: i % 3 === 0 ? 'other.thing' : 'test.event', actor: 'alice', details: { i } })),
      ),
    );
    // Small pages so the two interleave across many cursor moves.
    const services = stores.map((s) => createWebhookService(depsOf(s), outboxOf(s), { fanOutBatch: 4, fanOutPages: 100 }));
    await Promise.all([services[0]!.fanOut(), services[1]!.fanOut(), services[0]!.fanOut(), services[1]!.fanOut()]);
    expect(await count('a')).toBe(20);
    expect(await count('b')).toBe(EVENTS);
    expect(await services[0]!.store.getCursor()).toBe(EVENTS);
    expect(await services[1]!.fanOut()).toBe(0);
  });

  it('two servers claiming at once take disjoint rows, and leased rows wait for their lease', async () => {
    const [s0, s1] = stores.map((s) => createWebhookService(depsOf(s), outboxOf(s), {}).store);
    const now = clock.now();
    const [c0, c1] = await Promise.all([s0!.claimDue(now, ['a', 'b'], 30, now + 1000), s1!.claimDue(now, ['a', 'b'], 30, now + 1000)]);
    const ids = [...c0, ...c1].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const again = await s0!.claimDue(now, ['a', 'b'], 100, now + 1000);
    expect(ids.length + again.length).toBeLessThanOrEqual(50);
    const all = [...c0, ...c1, ...again];
    expect(all.every((r) => r.attempts === 1)).toBe(true);
    // Everything is leased now.
    expect(await s1!.claimDue(now, ['a', 'b'], 100, now + 1000)).toEqual([]);
    // A stale claim (lease ran out, someone else claimed) cannot push a row back after a failure...
    clock.advance(1000);
    const [row] = await s1!.claimDue(clock.now(), ['a'], 1, clock.now() + 1000);
    const stale = all.find((r) => r.id === row!.id)!;
    await s0!.finishAttempt(
      stale,
      { outboxId: stale.id, endpoint: 'a', attempt: 1, at: clock.now(), statusCode: 500, durationMs: 1, error: 'HTTP 500' },
      { delivered: false, nextAttemptAt: clock.now() },
    );
    expect(await s0!.claimDue(clock.now(), ['a'], 100, clock.now() + 1000).then((r) => r.some((x) => x.id === row!.id))).toBe(false);
    // ...but a success counts whoever had it.
    await s0!.finishAttempt(
      stale,
      { outboxId: stale.id, endpoint: 'a', attempt: 1, at: clock.now(), statusCode: 204, durationMs: 1, error: null },
      { delivered: true },
    );
    const after = await stores[0]!.db.selectFrom('webhook_outbox').selectAll().where('id', '=', row!.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('delivered');
    await stores[0]!.db.deleteFrom('webhook_deliveries').execute();
    await stores[0]!.db
      .updateTable('webhook_outbox')
      .set({ status: 'pending', attempts: 0, next_attempt_at: T0, last_status: null, last_error: null, delivered_at: null })
      .execute();
    clock.set(T0);
  });

  it('two servers delivering at once send each event once (normal case)', async () => {
    const workers = stores.map((s) => createWebhookWorker(depsOf(s), outboxOf(s), { detached: false, concurrency: 4 }));
    await Promise.all([workers[0]!.runOnce(), workers[1]!.runOnce(), workers[0]!.runOnce(), workers[1]!.runOnce()]);
    expect(rx.on('/a')).toHaveLength(20);
    expect(rx.on('/b')).toHaveLength(EVENTS);
    const ids = rx.received.map((r) => JSON.parse(r.body).id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(rx.received.every((r) => r.headers['hourglass-delivery']!.toString().endsWith('.1'))).toBe(true);
    const pending = await stores[0]!.db.selectFrom('webhook_outbox').select('id').where('status', '=', 'pending').execute();
    expect(pending).toEqual([]);
    const service = createWebhookService(depsOf(stores[1]!), outboxOf(stores[1]!));
    const overview = await service.overview({ id: 'auditor', groups: [], roles: ['auditor'] });
    expect(overview.webhooks.map((w) => [w.name, w.delivered, w.pending, w.failing])).toEqual([
      ['a', 20, 0, 0],
      ['b', EVENTS, 0, 0],
    ]);
  });

  it('an error from the sender is logged scrubbed of the secret, and retried', async () => {
    const leaky: WebhookSender = { send: async (req) => ({ kind: 'error', message: `TLS failure near ${req.secret} (x)`, durationMs: 3 }) };
    const deps = depsOf(stores[0]!);
    await stores[0]!.transaction((tx) => tx.appendAudit([{ id: 'ev-leak', at: T0, type: 'test.leak', actor: 'alice' }]));
    const w = createWebhookWorker(deps, outboxOf(stores[0]!), { detached: false, sender: leaky });
    await w.runOnce();
    const log = await createWebhookService(deps, outboxOf(stores[0]!)).deliveries(
      { id: 'admin', groups: [], roles: ['admin'] },
      { limit: 10, eventId: 'ev-leak' },
    );
    expect(log.deliveries.map((d) => d.webhook).sort()).toEqual(['a', 'b']);
    for (const d of log.deliveries) expect(d).toMatchObject({ outcome: 'failed', statusCode: null, error: 'TLS failure near [redacted] (x)' });
    expect(JSON.stringify(log)).not.toContain(SECRET_A);
    expect(JSON.stringify(log)).not.toContain(SECRET_B);
    const rows = await stores[0]!.db.selectFrom('webhook_outbox').selectAll().where('event_id', '=', 'ev-leak').execute();
    expect(rows.map((r) => r.status)).toEqual(['pending', 'pending']);
    expect(JSON.stringify(rows)).not.toContain(SECRET_A);
  });
  it('rows claimed by a server that stopped saying it is alive are due again at once; a live or retrying claim is left alone', async () => {
    await stores[0]!.transaction((tx) => tx.appendAudit([{ id: 'ev-dead-1', at: T0, type: 'test.dead', actor: 'alice' }]));
    const service = createWebhookService(depsOf(stores[0]!), outboxOf(stores[0]!), {});
    await service.fanOut();
    const s0 = service.store;
    const now = clock.now();
    // Everything due by the end of this test is delivered first, so only the new rows are left to claim.
    const drain = now + 3000;
    for (let rows = await s0.claimDue(drain, ['a', 'b'], 100, drain); rows.length; rows = await s0.claimDue(drain, ['a', 'b'], 100, drain)) {
      for (const r of rows) {
        await s0.finishAttempt(
          r,
          { outboxId: r.id, endpoint: r.endpoint, attempt: r.attempts, at: now, statusCode: 200, durationMs: 1, error: null },
          { delivered: true },
        );
      }
    }
    await stores[0]!.beat('srv_gone', now, now + 3000);
    await stores[0]!.transaction((tx) => tx.appendAudit([{ id: 'ev-dead-2', at: now, type: 'test.dead', actor: 'alice' }]));
    await service.fanOut();
    const claimed = await s0.claimDue(now, ['a', 'b'], 100, now + 60_000, 'srv_gone');
    expect(claimed.map((r) => r.eventId)).toEqual(['ev-dead-2', 'ev-dead-2']);
    expect(await s0.releaseClaimsOfDead(now + 2999)).toBe(0); // still alive
    expect(await s0.claimDue(now + 2999, ['a', 'b'], 100, now + 60_000)).toEqual([]);
    expect(await s0.releaseClaimsOfDead(now + 3000)).toBe(2);
    const again = await s0.claimDue(now + 3000, ['a', 'b'], 100, now + 60_000, 'srv_other');
    expect(again.map((r) => [r.eventId, r.attempts])).toEqual([
      ['ev-dead-2', 2],
      ['ev-dead-2', 2],
    ]);
  });
});

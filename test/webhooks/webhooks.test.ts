/**
 * Event webhooks end to end over the real app and a real SQLite store: a real receiver on
 * 127.0.0.1 gets signed deliveries of matching events only, failures are retried with backoff
 * and delivered exactly once after recovery, a crash loses nothing, and the delivery log and API
 * show every attempt without ever showing a secret.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/adapters/scheduler.js';
import { createWebhookService, createWebhookWorker } from '../../src/adapters/outbound/webhook-worker.js';
import { verifyWebhookSignature } from '../../src/adapters/outbound/verify-signature.js';
import type { AppDeps } from '../../src/app/context.js';
import { DEFAULT_BACKOFF, retryDelay, type WebhookWorker } from '../../src/app/webhooks.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { recordingMetrics, SECRET_A, SECRET_B, startReceiver, webhookYaml, type Receiver } from './support.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
let h: H;
let handle: StoreHandle;
let rx: Receiver;
let metrics: ReturnType<typeof recordingMetrics>;

const hooks = () => [
  { name: 'grants', url: `${rx.url}/grants`, secret: SECRET_A, events: ['grant.*'] },
  { name: 'alerts', url: `${rx.url}/alerts?token=query-token-value`, secret: SECRET_B, events: ['alert.*', 'reminder.*'] },
];

/** `null`: no server.allowedHosts. */
async function open(allowedHosts: string[] | null = ['127.0.0.1']) {
  h = await createHttpHarness({ yaml: webhookYaml(hooks(), allowedHosts ?? undefined), storeUrl: handle.url });
}

function deps(): AppDeps {
  return { ...h.app.deps, metrics };
}

/** Pins the jitter so the retry schedule is known: half of each ceiling. */
function worker(): WebhookWorker {
  return createWebhookWorker(deps(), h.stores.webhooks, { detached: false, random: () => 0.5 });
}

/** One scheduler pass of the worker (events are linked as they are written). */
async function pass(w: WebhookWorker) {
  await w.runOnce();
}

const submit = (who: string, body: Record<string, unknown>) => h.call('POST', '/v1/requests', token(who), body);
const everything = () => JSON.stringify(rx.received) + JSON.stringify(metrics.deliveries);

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  rx = await startReceiver();
  metrics = recordingMetrics();
});
afterEach(async () => {
  await h?.close();
  await rx.close();
  await handle.cleanup();
});

describe('delivery', () => {
  it('sends matching events only, signed, with the documented body and headers', async () => {
    await open();
    const w = worker();
    expect((await submit('alice', { entitlements: ['db/read'], duration: '1h' })).status).toBe(201);
    expect((await submit('dave', { entitlements: ['db/admin'], duration: '30m', reason: 'pager', breakGlass: true })).status).toBe(201);
    await pass(w);

    const grants = rx.on('/grants');
    const alerts = rx.on('/alerts?token=query-token-value');
    expect(grants.map((r) => JSON.parse(r.body).event.type)).toEqual(['grant.activated', 'grant.activated']);
    expect(alerts.map((r) => JSON.parse(r.body).event.type)).toEqual(['alert.break_glass_used']);
    expect(rx.received).toHaveLength(3);

    const audit = (await h.call('GET', '/v1/audit?limit=1000', token('auditor'))).body.events as { id: string; hash: string; seq: number }[];
    for (const [r, secret] of [...grants.map((g) => [g, SECRET_A] as const), ...alerts.map((a) => [a, SECRET_B] as const)]) {
      expect(verifyWebhookSignature(secret, r.headers['hourglass-signature'] as string, r.body, h.clock.now())).toBe(true);
      expect(verifyWebhookSignature(secret === SECRET_A ? SECRET_B : SECRET_A, r.headers['hourglass-signature'] as string, r.body, h.clock.now())).toBe(false);
      const body = JSON.parse(r.body);
      expect(Object.keys(body)).toEqual(['id', 'event', 'webhook', 'sentAt']);
      expect(Object.keys(body.event)).toEqual(['id', 'seq', 'type', 'at', 'actor', 'requestId', 'details', 'policyHash', 'hash']);
      expect(body.sentAt).toBe(new Date(h.clock.now()).toISOString());
      expect(body.event.policyHash).toBe(h.config.policyHash);
      const inLog = audit.find((e) => e.id === body.event.id)!;
      expect(body.event).toMatchObject({ seq: inLog.seq, hash: inLog.hash });
      expect(r.headers['hourglass-event-id']).toBe(body.event.id);
      expect(r.headers['hourglass-event-type']).toBe(body.event.type);
      expect(r.headers['hourglass-delivery']).toBe(`${body.id}.1`);
      expect(r.headers['hourglass-timestamp']).toBe(String(Math.floor(h.clock.now() / 1000)));
    }
    expect(JSON.parse(alerts[0]!.body).webhook).toBe('alerts');
    expect(metrics.deliveries.sort()).toEqual(['alerts:delivered', 'grants:delivered', 'grants:delivered']);

    // Nothing twice.
    h.clock.advance(10 * 3_600_000);
    await pass(w);
    expect(rx.received).toHaveLength(3);
    expect(everything()).not.toContain(SECRET_A);
    expect(everything()).not.toContain(SECRET_B);
  });

  it('a receiver that fails is retried with backoff and gets the event exactly once after recovering', async () => {
    await open();
    const w = worker();
    rx.respond = ({ path, n }) => (path === '/grants' && n <= 3 ? 500 : 200);
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);

    // Not again before the backoff: attempt n waits half of min(1h, 10s * 2^(n-1)) with the jitter pinned.
    const row = async () => await h.store.db.selectFrom('webhook_outbox').selectAll().where('endpoint', '=', 'grants').executeTakeFirstOrThrow();
    let now = h.clock.now();
    expect((await row()).next_attempt_at).toBe(now + 5_000);
    h.clock.advance(4_999);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);
    h.clock.advance(1);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(2);
    now = h.clock.now();
    expect((await row()).next_attempt_at).toBe(now + 10_000);
    h.clock.advance(10_000);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(3);

    // The failing state is visible while it lasts.
    const failing = (await h.call('GET', '/v1/webhooks', token('auditor'))).body.webhooks.find((x: { name: string }) => x.name === 'grants');
    expect(failing).toMatchObject({ pending: 0, failing: 1, delivered: 0, lastAttempt: { outcome: 'failed', statusCode: 500, attempt: 3 } });
    expect(failing.oldestPendingAgeSeconds).toBe(15);

    h.clock.advance(20_000);
    await pass(w);
    const got = rx.on('/grants');
    expect(got.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(got.map((r) => r.headers['hourglass-delivery'])).toEqual([1, 2, 3, 4].map((n) => `${JSON.parse(got[0]!.body).id}.${n}`));
    expect(new Set(got.map((r) => JSON.parse(r.body).event.id)).size).toBe(1);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(2 * 3_600_000);
      await pass(w);
    }
    expect(rx.on('/grants')).toHaveLength(4);

    const log = (await h.call('GET', '/v1/webhooks/deliveries?endpoint=grants', token('auditor'))).body.deliveries;
    expect(
      log.map((d: { attempt: number; outcome: string; statusCode: number; error: string | null }) => [d.attempt, d.outcome, d.statusCode, d.error]),
    ).toEqual([
      [4, 'delivered', 200, null],
      [3, 'failed', 500, 'HTTP 500'],
      [2, 'failed', 500, 'HTTP 500'],
      [1, 'failed', 500, 'HTTP 500'],
    ]);
    expect(metrics.deliveries.filter((d) => d.startsWith('grants:'))).toEqual(['grants:failed', 'grants:failed', 'grants:failed', 'grants:delivered']);
    const overview = (await h.call('GET', '/v1/webhooks', token('admin'))).body.webhooks.find((x: { name: string }) => x.name === 'grants');
    expect(overview).toMatchObject({ pending: 0, failing: 0, delivered: 1, oldestPendingAgeSeconds: null });
  });

  it('a 4xx (other than 408/429 too) is retried: the receiver may be fixed', async () => {
    await open();
    const w = worker();
    rx.respond = ({ n }) => (n === 1 ? 404 : 200);
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    h.clock.advance(3_600_000);
    await pass(w);
    expect(rx.on('/grants').map((r) => r.status)).toEqual([404, 200]);
  });

  it('an endpoint that fails gets no more of its backlog in that round', async () => {
    await open();
    const w = createWebhookWorker(deps(), h.stores.webhooks, { detached: false, concurrency: 1, random: () => 0.5 });
    rx.respond = () => 503;
    for (let i = 0; i < 3; i++) await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);
    rx.respond = () => 200;
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(3);
    h.clock.advance(3_600_000);
    await pass(w);
    expect(rx.on('/grants').map((r) => r.status)).toEqual([503, 200, 200, 200]);
  });

  it('the retry delay grows exponentially with full jitter, capped at an hour, never under a second', () => {
    expect(retryDelay(1, () => 0.999_999)).toBe(9_999);
    expect(retryDelay(2, () => 0.999_999)).toBe(19_999);
    expect(retryDelay(9, () => 0.999_999)).toBe(2_559_997);
    expect(retryDelay(10, () => 0.999_999)).toBe(3_599_996);
    expect(retryDelay(500, () => 0.999_999)).toBe(3_599_996);
    expect(retryDelay(3, () => 0)).toBe(DEFAULT_BACKOFF.minMs);
    for (let i = 0; i < 100; i++) {
      const d = retryDelay(4, Math.random);
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThan(80_000);
    }
  });
});

describe('SSRF guard in delivery', () => {
  it('without allowedHosts the delivery is refused and recorded as refused, not sent; listing the host later delivers it', async () => {
    await open(null);
    expect(h.config.server.allowedHosts).toEqual([]);
    const w = worker();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(rx.received).toHaveLength(0);
    const log = (await h.call('GET', '/v1/webhooks/deliveries?status=refused', token('auditor'))).body.deliveries;
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ webhook: 'grants', eventType: 'grant.activated', outcome: 'refused', statusCode: null, attempt: 1 });
    expect(log[0].error).toMatch(/^refused: 127\.0\.0\.1 is an internal address; list it in server\.allowedHosts/);
    expect(metrics.deliveries).toEqual(['grants:refused']);
    expect((await h.call('GET', '/v1/webhooks/deliveries?status=delivered', token('auditor'))).body.deliveries).toHaveLength(0);

    // The operator lists the host (a reload); the next retry goes through.
    h.source.set(configFromYaml(webhookYaml(hooks(), ['127.0.0.1']), handle.url));
    h.clock.advance(3_600_000);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);
    expect((await h.call('GET', '/v1/webhooks/deliveries?status=delivered', token('auditor'))).body.deliveries).toHaveLength(1);
  });
});

describe('durability', () => {
  it('a crash between fan-out and delivery loses nothing', async () => {
    await open();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    // The first server fans out, then dies before delivering.
    expect(await createWebhookService(deps(), h.stores.webhooks).fanOut()).toBe(1);
    await h.close();

    // A new server over the same store.
    h = await createHttpHarness({ yaml: webhookYaml(hooks(), ['127.0.0.1']), storeUrl: handle.url });
    await pass(worker());
    expect(rx.on('/grants')).toHaveLength(1);
  });

  it('a crash during a send (claimed, never finished) is retried once the lease runs out', async () => {
    await open();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    const service = createWebhookService(deps(), h.stores.webhooks);
    await service.fanOut();
    const now = h.clock.now();
    const claimed = await service.store.claimDue(now, ['grants'], 10, now + 32_000);
    expect(claimed).toHaveLength(1);
    // ...and the process dies here. A new worker leaves the leased row alone until the lease ends.
    const w = worker();
    await pass(w);
    expect(rx.received).toHaveLength(0);
    h.clock.advance(32_000);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);
    expect(rx.on('/grants')[0]!.headers['hourglass-delivery']).toBe(`${claimed[0]!.id}.2`);
  });

  it('fan-out is idempotent and picks up from its cursor', async () => {
    await open();
    const service = createWebhookService(deps(), h.stores.webhooks);
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect(await service.fanOut()).toBe(1);
    expect(await service.fanOut()).toBe(0);
    await submit('bob', { entitlements: ['db/read'], duration: '1h' });
    expect(await service.fanOut()).toBe(1);
    const rows = await h.store.db.selectFrom('webhook_outbox').select(['endpoint', 'event_type']).execute();
    expect(rows).toEqual([
      { endpoint: 'grants', event_type: 'grant.activated' },
      { endpoint: 'grants', event_type: 'grant.activated' },
    ]);
    expect(await service.store.getCursor()).toBe((await h.store.auditHead())!.seq);
  });

  it('follows the chain back when its tail is deleted, so the events linked next are still sent', async () => {
    await open();
    const w = worker();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(1);
    const head = (await h.store.auditHead())!.seq;
    await h.store.db
      .deleteFrom('audit_events')
      .where('seq', '>=', head - 1)
      .execute();
    await pass(w);
    expect(await createWebhookService(deps(), h.stores.webhooks).store.getCursor()).toBe(head - 2);
    await submit('bob', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    const got = rx.on('/grants');
    expect(got).toHaveLength(2);
    expect(JSON.parse(got[1]!.body).event).toMatchObject({ actor: 'bob', seq: head });
  });

  it('an endpoint added by a reload gets the events linked after it, and older ones on request', async () => {
    h = await createHttpHarness({ yaml: webhookYaml([], ['127.0.0.1']), storeUrl: handle.url });
    const w = worker();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(await createWebhookService(deps(), h.stores.webhooks).store.getCursor()).toBe((await h.store.auditHead())!.seq);
    h.source.set(configFromYaml(webhookYaml(hooks(), ['127.0.0.1']), handle.url));
    await submit('bob', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    expect(rx.on('/grants').map((r) => JSON.parse(r.body).event.actor)).toEqual(['bob']);
    const old = (await h.call('GET', '/v1/audit?actor=alice&type=grant.activated', token('auditor'))).body.events[0].id;
    expect((await h.call('POST', '/v1/webhooks/grants/redeliver', token('admin'), { eventId: old })).status).toBe(202);
    await pass(w);
    expect(rx.on('/grants').map((r) => JSON.parse(r.body).event.actor)).toEqual(['bob', 'alice']);
    expect(rx.on('/grants')[1]!.headers['hourglass-delivery']).toMatch(/\.1$/);
  });

  it('the detached worker does not hold up the scheduler pass; idle() waits for the round', async () => {
    await open();
    const w = createWebhookWorker(deps(), h.stores.webhooks, { random: () => 0.5 });
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await w.runOnce();
    await w.idle();
    expect(rx.on('/grants')).toHaveLength(1);
  });
});

describe('in the scheduler', () => {
  it('runs as a background worker; a receiver that hangs does not hold up the pass', async () => {
    const hang = await startReceiver();
    try {
      h = await createHttpHarness({
        yaml: webhookYaml([{ name: 'slow', url: `${hang.url}/slow`, secret: SECRET_A, events: ['grant.*'], timeout: '1s' }], ['127.0.0.1']),
        storeUrl: handle.url,
      });
      hang.respond = () => 'hang';
      const w = createWebhookWorker(deps(), h.stores.webhooks, { random: () => 0.5 });
      const scheduler = new Scheduler(h.app, () => 50, pino({ level: 'silent' }), [w]);
      await submit('alice', { entitlements: ['db/read'], duration: '1h' });
      const started = Date.now();
      await scheduler.runOnce();
      expect(Date.now() - started).toBeLessThan(500);
      await scheduler.idle(); // the pass starts workers without waiting; this waits for the run and its round
      const log = (await h.call('GET', '/v1/webhooks/deliveries', token('auditor'))).body.deliveries;
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ outcome: 'failed', statusCode: null, error: 'no answer within 1000 ms' });
      expect(metrics.deliveries).toEqual(['slow:failed']);
      expect(hang.on('/slow')).toHaveLength(1);
    } finally {
      await hang.close();
    }
  });
});

describe('API', () => {
  it('lists webhooks with counts and never the secret or query tokens; only auditors and admins may read', async () => {
    await open();
    const w = worker();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    const res = await h.call('GET', '/v1/webhooks', token('auditor'));
    expect(res.status).toBe(200);
    expect(res.body.webhooks).toEqual([
      expect.objectContaining({ name: 'grants', url: `${rx.url}/grants`, events: ['grant.*'], pending: 0, failing: 0, delivered: 1 }),
      expect.objectContaining({ name: 'alerts', url: `${rx.url}/alerts?token=redacted`, events: ['alert.*', 'reminder.*'], delivered: 0, lastAttempt: null }),
    ]);
    expect(res.body.fanOut.cursor).toBe(res.body.fanOut.head);
    for (const url of ['/v1/webhooks', '/v1/webhooks/deliveries']) {
      expect((await h.call('GET', url, token('alice'))).status).toBe(403);
      expect((await h.call('GET', url)).status).toBe(401);
    }
    const text = JSON.stringify(res.body) + JSON.stringify((await h.call('GET', '/v1/webhooks/deliveries', token('admin'))).body);
    expect(text).not.toContain(SECRET_A);
    expect(text).not.toContain(SECRET_B);
    expect(text).not.toContain('query-token-value');
  });

  it('pages through the delivery log newest first, filtered by webhook, outcome and event', async () => {
    await open();
    const w = worker();
    for (let i = 0; i < 3; i++) await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    const all = (await h.call('GET', '/v1/webhooks/deliveries', token('auditor'))).body;
    expect(all.deliveries).toHaveLength(3);
    expect(all.nextCursor).toBeNull();
    const first = (await h.call('GET', '/v1/webhooks/deliveries?limit=2', token('auditor'))).body;
    expect(first.deliveries.map((d: { id: string }) => d.id)).toEqual(all.deliveries.slice(0, 2).map((d: { id: string }) => d.id));
    const second = (await h.call('GET', `/v1/webhooks/deliveries?limit=2&cursor=${first.nextCursor}`, token('auditor'))).body;
    expect(second.deliveries.map((d: { id: string }) => d.id)).toEqual([all.deliveries[2].id]);
    const one = all.deliveries[1];
    const byEvent = (await h.call('GET', `/v1/webhooks/deliveries?eventId=${one.eventId}`, token('auditor'))).body.deliveries;
    expect(byEvent).toEqual([one]);
    expect((await h.call('GET', '/v1/webhooks/deliveries?endpoint=alerts', token('auditor'))).body.deliveries).toEqual([]);
    expect((await h.call('GET', '/v1/webhooks/deliveries?status=failed', token('auditor'))).body.deliveries).toEqual([]);
    expect((await h.call('GET', '/v1/webhooks/deliveries?status=bogus', token('auditor'))).status).toBe(400);
  });

  it('redelivers one event on request (admin), audited, queued by the next pass', async () => {
    await open();
    const w = worker();
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass(w);
    const [first] = rx.on('/grants');
    const sent = JSON.parse(first!.body);
    const eventId = sent.event.id as string;

    expect((await h.call('POST', '/v1/webhooks/grants/redeliver', token('auditor'), { eventId })).status).toBe(403);
    expect((await h.call('POST', '/v1/webhooks/nope/redeliver', token('admin'), { eventId })).status).toBe(404);
    expect((await h.call('POST', '/v1/webhooks/grants/redeliver', token('admin'), { eventId: 'no-such-event' })).status).toBe(404);
    const submitted = (await h.call('GET', '/v1/audit?type=request.submitted', token('auditor'))).body.events[0].id;
    const wrong = await h.call('POST', '/v1/webhooks/grants/redeliver', token('admin'), { eventId: submitted });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/does not subscribe to request\.submitted/);

    const ok = await h.call('POST', '/v1/webhooks/grants/redeliver', token('admin'), { eventId });
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ webhook: 'grants', eventId, eventType: 'grant.activated', queued: true });
    const audit = (await h.call('GET', '/v1/audit?type=webhook.*', token('auditor'))).body.events;
    expect(audit).toEqual([
      expect.objectContaining({
        id: ok.body.requestEventId,
        type: 'webhook.redelivery_requested',
        actor: 'admin',
        details: expect.objectContaining({ webhook: 'grants', eventId }),
      }),
    ]);

    await pass(w);
    const got = rx.on('/grants');
    expect(got).toHaveLength(2);
    const again = JSON.parse(got[1]!.body);
    expect(again.id).toBe(sent.id);
    expect(again.event).toEqual(sent.event);
    expect(got[1]!.headers['hourglass-delivery']).toBe(`${sent.id}.2`);
    await pass(w);
    expect(rx.on('/grants')).toHaveLength(2);
  });
});

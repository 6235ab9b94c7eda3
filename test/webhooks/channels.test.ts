/**
 * Notification channels (app/notify.ts): a second channel kind, registered beside the webhook
 * channel through the composition root, is fed from the same outbox and gets the same leases,
 * backoff and delivery log. The stub lives here; real channels are folders in src/adapters/notifiers/.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { notificationChannels } from '../../src/adapters/notifiers/index.js';
import type { ChannelEndpoint, Delivery, DeliveryResult, NotificationChannel } from '../../src/app/notify.js';
import { retryDelay } from '../../src/app/webhooks.js';
import type { Principal } from '../../src/core/types.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { configFromYaml, freshStoreUrl, T0, type StoreHandle } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { SECRET_A, startReceiver, webhookYaml, type Receiver } from './support.js';

const CHAT_TOKEN = 'chat-token-0123456789';
const ADMIN: Principal = { id: 'admin', groups: [], roles: ['admin'] };

/** Fails with a network error, then with a 503, then delivers; records what it was given. */
function stubChannel() {
  const seen: Delivery[] = [];
  const answers: DeliveryResult[] = [
    { kind: 'error', message: `timeout posting with ${CHAT_TOKEN}`, durationMs: 7 },
    { kind: 'response', status: 503, durationMs: 4 },
    { kind: 'response', status: 200, durationMs: 2 },
  ];
  const channel: NotificationChannel<ChannelEndpoint & { token: string }> = {
    kind: 'stub-chat',
    endpoints: () => [{ name: 'chat', events: ['grant.*'], timeoutMs: 1_000, token: CHAT_TOKEN }],
    secrets: (ep) => [ep.token],
    async deliver(d) {
      seen.push(d);
      return answers[Math.min(seen.length, answers.length) - 1]!;
    },
  };
  return { channel, seen };
}

let handle: StoreHandle;
let rx: Receiver;
let system: HourglassSystem;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  rx = await startReceiver();
});
afterEach(async () => {
  await system?.close();
  await rx.close();
  await handle.cleanup();
});

it('a second channel kind gets events from the same outbox, with the same backoff and delivery log', async () => {
  const stub = stubChannel();
  const clock = new ManualClock(T0);
  const config = configFromYaml(webhookYaml([{ name: 'grants', url: `${rx.url}/grants`, secret: SECRET_A, events: ['grant.*'] }], ['127.0.0.1']), handle.url);
  system = await createHourglass(
    config,
    {},
    {
      clock,
      storeUrl: handle.url,
      metrics: false,
      http: false,
      detached: false,
      random: () => 0.5,
      channels: [...notificationChannels, stub.channel],
    },
  );
  await system.stores.store.transaction((tx) => tx.appendAudit([{ id: 'ev-1', at: T0, type: 'grant.activated', actor: 'alice' }]));
  const pass = async (ms: number) => {
    clock.advance(ms);
    await system.webhooks.runOnce();
  };

  await pass(0);
  expect(rx.on('/grants')).toHaveLength(1);
  expect(stub.seen).toHaveLength(1);
  // Not before the backoff of the first failure, due right at it; then the doubled ceiling.
  await pass(retryDelay(1, () => 0.5) - 1);
  expect(stub.seen).toHaveLength(1);
  await pass(1);
  expect(stub.seen).toHaveLength(2);
  await pass(retryDelay(2, () => 0.5) - 1);
  expect(stub.seen).toHaveLength(2);
  await pass(1);
  expect(stub.seen).toHaveLength(3);
  await pass(3_600_000);
  expect(stub.seen).toHaveLength(3);
  expect(rx.on('/grants')).toHaveLength(1);

  const body = JSON.parse(stub.seen[2]!.body) as { event: { id: string }; webhook: string; sentAt: string };
  expect(body).toMatchObject({ event: { id: 'ev-1' }, webhook: 'chat' });
  expect(stub.seen.map((d) => [d.eventId, d.eventType])).toEqual(Array(3).fill(['ev-1', 'grant.activated']));
  const outboxId = stub.seen[0]!.deliveryId.split('.')[0];
  expect(stub.seen.map((d) => d.deliveryId)).toEqual([1, 2, 3].map((n) => `${outboxId}.${n}`));

  const log = await system.app.webhooks.deliveries(ADMIN, { endpoint: 'chat', limit: 10 });
  expect(log.deliveries.map((d) => [d.attempt, d.outcome, d.statusCode, d.error])).toEqual([
    [3, 'delivered', 200, null],
    [2, 'failed', 503, 'HTTP 503'],
    [1, 'failed', null, 'timeout posting with [redacted]'],
  ]);
  expect(log.deliveries.every((d) => d.outboxId === outboxId && d.eventId === 'ev-1')).toBe(true);
  expect(JSON.stringify(log)).not.toContain(CHAT_TOKEN);
  const grants = await system.app.webhooks.deliveries(ADMIN, { endpoint: 'grants', limit: 10 });
  expect(grants.deliveries.map((d) => d.outcome)).toEqual(['delivered']);
});

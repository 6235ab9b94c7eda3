/**
 * Composition of event webhooks for tests and tools: the use cases (app/webhooks.ts) over the
 * Kysely outbox (adapters/store/webhook-store.ts) and the notification channels
 * (adapters/notifiers/; by default the signed-POST webhook channel alone).
 */
import type { AppDeps } from '../../app/context.js';
import type { NotificationChannel } from '../../app/notify.js';
import { WebhookService, webhookWorker, type WebhookOptions, type WebhookSender, type WebhookStore, type WebhookWorker } from '../../app/webhooks.js';
import { signedPostSender, webhookChannel } from '../notifiers/webhook/index.js';

export { signedPostSender };

export interface WebhookWiring extends WebhookOptions {
  /** The webhook channel's sender. Defaults to signedPostSender. */
  sender?: WebhookSender;
  /** Channels beside the webhook channel (a later kind, or a test's stub). */
  channels?: readonly NotificationChannel[];
}

/** The webhook use cases over an outbox (`OpenedStore.webhooks`). */
export function createWebhookService(deps: AppDeps, store: WebhookStore, opts: WebhookWiring = {}): WebhookService {
  const { sender, channels, random, ...rest } = opts;
  return new WebhookService(deps, store, [webhookChannel(sender ?? signedPostSender), ...(channels ?? [])], { ...rest, random: random ?? Math.random });
}

/**
 * The background worker for the scheduler over a webhook service of its own: each pass fans new
 * audit events out to the outbox, then starts a delivery round (not awaited unless `detached: false`).
 * The composition root gives the application's service to `webhookWorker` instead.
 */
export function createWebhookWorker(deps: AppDeps, store: WebhookStore, opts: WebhookWiring & { detached?: boolean } = {}): WebhookWorker {
  const { detached, ...wiring } = opts;
  return webhookWorker(createWebhookService(deps, store, wiring), detached === undefined ? {} : { detached });
}

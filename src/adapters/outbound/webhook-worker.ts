/**
 * Composition of event webhooks: the use cases (app/webhooks.ts) over the Kysely outbox
 * (adapters/store/webhook-store.ts) and the guarded, signed POST (signed-post.ts).
 */
import { performance } from 'node:perf_hooks';
import type { AppDeps } from '../../app/context.js';
import {
  WebhookService,
  webhookWorker,
  type OutboundRequest,
  type SendResult,
  type WebhookOptions,
  type WebhookSender,
  type WebhookStore,
  type WebhookWorker,
} from '../../app/webhooks.js';
import { OutboundRefused, signedPost } from './signed-post.js';

/** A network error's message, with its code when Node gives one (ECONNREFUSED, ...). */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** The real sender: signedPost, with refusals told apart from network errors. Never throws. */
export const signedPostSender: WebhookSender = {
  async send(req: OutboundRequest): Promise<SendResult> {
    const started = performance.now();
    try {
      const r = await signedPost(req);
      return { kind: 'response', status: r.status, durationMs: r.durationMs };
    } catch (err) {
      const durationMs = Math.round(performance.now() - started);
      return { kind: err instanceof OutboundRefused ? 'refused' : 'error', message: describe(err), durationMs };
    }
  },
};

export interface WebhookWiring extends WebhookOptions {
  /** Defaults to signedPostSender. */
  sender?: WebhookSender;
}

/** The webhook use cases over an outbox (`OpenedStore.webhooks`). */
export function createWebhookService(deps: AppDeps, store: WebhookStore, opts: WebhookWiring = {}): WebhookService {
  const { sender, random, ...rest } = opts;
  return new WebhookService(deps, store, sender ?? signedPostSender, { ...rest, random: random ?? Math.random });
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

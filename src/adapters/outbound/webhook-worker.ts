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
import { webhookStoreFor } from '../store/webhook-store.js';
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
  /** Defaults to the outbox beside `deps.store`. */
  store?: WebhookStore;
  /** Defaults to signedPostSender. */
  sender?: WebhookSender;
}

const services = new WeakMap<AppDeps, WebhookService>();

/** The webhook use cases over the store of `deps` (one per deps unless options are given). */
export function webhookServiceFor(deps: AppDeps, opts?: WebhookWiring): WebhookService {
  if (!opts) {
    const known = services.get(deps);
    if (known) return known;
  }
  const { store, sender, ...rest } = opts ?? {};
  const service = new WebhookService(deps, store ?? webhookStoreFor(deps.store), sender ?? signedPostSender, rest);
  if (!opts) services.set(deps, service);
  return service;
}

/**
 * The background worker for the scheduler: each pass fans new audit events out to the outbox,
 * then starts a delivery round (not awaited unless `detached: false`).
 */
export function createWebhookWorker(deps: AppDeps, opts: WebhookWiring & { detached?: boolean } = {}): WebhookWorker {
  const { detached, ...wiring } = opts;
  return webhookWorker(webhookServiceFor(deps, Object.keys(wiring).length ? wiring : undefined), detached === undefined ? {} : { detached });
}

/**
 * The `webhook` notification channel: each attempt is one HMAC-signed POST to the endpoint's URL
 * (adapters/outbound/signed-post.ts, with its guard against internal addresses). Endpoints are the
 * `webhooks:` section. docs/events.md describes the requests for receivers.
 */
import { performance } from 'node:perf_hooks';
import type { WebhookEndpoint } from '../../../config/types.js';
import type { NotificationChannel } from '../../../app/notify.js';
import type { OutboundRequest, SendResult, WebhookSender } from '../../../app/webhooks.js';
import { OutboundRefused, signedPost } from '../../outbound/signed-post.js';

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

/** The channel over a sender (tests pass one that fails or leaks on purpose). */
export function webhookChannel(sender: WebhookSender = signedPostSender): NotificationChannel<WebhookEndpoint> {
  return {
    kind: 'webhook',
    endpoints: (config) => config.webhooks,
    secrets: (ep) => [ep.secret],
    deliver: (d, ep, config) =>
      sender.send({
        url: ep.url,
        body: d.body,
        secret: ep.secret,
        timestamp: Math.floor(d.at / 1000),
        headers: { 'hourglass-event-id': d.eventId, 'hourglass-event-type': d.eventType, 'hourglass-delivery': d.deliveryId },
        timeoutMs: ep.timeoutMs,
        allowedHosts: config.server.allowedHosts,
      }),
  };
}

/**
 * The `teams` message channel: one Adaptive Card per message, POSTed to a Teams Workflows webhook
 * (`notifications.teams`, destination `teams:NAME`). The workflow authenticates us by the `sig` in
 * its URL, so the post is unsigned but goes through the same guard as event webhooks
 * (adapters/outbound/signed-post.ts: no internal addresses unless allowed, no redirects, one deadline).
 * Workflows answer 202 and give no message id, so cards are never updated in place.
 */
import { performance } from 'node:perf_hooks';
import type { HourglassConfig, TeamsWebhook } from '../../../config/types.js';
import type { MessageChannel, SendInput, SendResult } from '../../../app/notifications/ports.js';
import { guardedPost, OutboundRefused } from '../../outbound/signed-post.js';
import { adaptiveCardMessage } from './card.js';

const PREFIX = 'teams:';

const webhooks = (config: HourglassConfig): readonly TeamsWebhook[] => config.notifications?.teams ?? [];

/** The URL, its query string and its `sig` (raw and decoded): what an error message must never show. */
function urlSecrets(url: string): string[] {
  const out = new Set([url]);
  try {
    const u = new URL(url);
    if (u.search.length > 1) out.add(u.search.slice(1));
    const sig = u.searchParams.get('sig');
    if (sig) out.add(sig).add(encodeURIComponent(sig));
  } catch {
    // not a URL: the whole string is the secret
  }
  return [...out];
}

/** A network error's message (with Node's code), with the URL's secrets taken out in case a layer quoted it. */
function describe(err: unknown, url: string): string {
  const e = err as { code?: unknown; message?: unknown };
  let message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  if (typeof e?.code === 'string' && !message.includes(e.code)) message = `${e.code}: ${message}`;
  for (const s of urlSecrets(url).sort((a, b) => b.length - a.length)) message = message.split(s).join('[redacted]');
  return message;
}

export function teamsChannel(): MessageChannel {
  return {
    kind: 'teams',
    destinations: (config) => webhooks(config).map((w) => `${PREFIX}${w.name}`),
    personal: () => false,
    updatesInPlace: false,
    secrets: (config) => webhooks(config).flatMap((w) => urlSecrets(w.url)),
    async send(input: SendInput, config: HourglassConfig): Promise<SendResult> {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const name = input.destination.startsWith(PREFIX) ? input.destination.slice(PREFIX.length) : '';
      const hook = webhooks(config).find((w) => w.name === name);
      // Removed from the configuration since the message was queued: retrying cannot help.
      if (!hook) return { kind: 'skipped', reason: `no Teams webhook named "${name}" in notifications.teams`, durationMs: elapsed() };
      try {
        const r = await guardedPost({
          url: hook.url,
          body: JSON.stringify(adaptiveCardMessage(input.message)),
          headers: { 'user-agent': 'Hourglass-Notifications/1' },
          timeoutMs: hook.timeoutMs,
          allowedHosts: config.server.allowedHosts,
        });
        if (r.status >= 200 && r.status < 300) return { kind: 'sent', durationMs: r.durationMs };
        return { kind: 'failed', message: `HTTP ${r.status}`, durationMs: r.durationMs };
      } catch (err) {
        const message = describe(err, hook.url);
        return { kind: 'failed', message: err instanceof OutboundRefused ? `refused: ${message}` : message, durationMs: elapsed() };
      }
    },
  };
}

/**
 * The Notifier port: how an event leaves the outbox (app/webhooks.ts) for one endpoint.
 *
 * The outbox owns fan-out, leases, backoff, the delivery log, redelivery and metrics; a channel
 * kind (`webhook` now; e-mail, Slack, Teams later) only names its endpoints and makes one attempt.
 * Adapters live in src/adapters/notifiers/<kind>/ and are registered in src/compose.ts.
 */
import type { HourglassConfig } from '../config/types.js';

/** What the outbox needs of any endpoint. Names are the outbox key: unique across all channels. */
export interface ChannelEndpoint {
  name: string;
  /** Event type patterns (`grant.*`, `*`); see eventMatches. */
  events: readonly string[];
  /** Deadline of one attempt; the claim lease is the longest of these plus a margin. */
  timeoutMs: number;
}

/** One attempt at one outbox row. */
export interface Delivery {
  eventId: string;
  eventType: string;
  /** `outboxId.attempt`: the same for every channel, so receivers can de-duplicate. */
  deliveryId: string;
  /** The JSON body as receivers see it (`sentAt` included). */
  body: string;
  /** When the attempt started (ms since the epoch). */
  at: number;
}

/**
 * How one attempt ended: a response (2xx is delivered, anything else is retried), an error
 * (network, timeout: retried), or refused before sending (bad address: retried, logged `refused: `).
 */
export type DeliveryResult = { kind: 'response'; status: number; durationMs: number } | { kind: 'refused' | 'error'; message: string; durationMs: number };

export interface NotificationChannel<E extends ChannelEndpoint = ChannelEndpoint> {
  /** `webhook`, `email`, ... */
  readonly kind: string;
  /** This channel's endpoints in the configuration now (read at every fan-out and round). */
  endpoints(config: HourglassConfig): readonly E[];
  /** Secrets scrubbed from this endpoint's error messages before they are logged. */
  secrets(endpoint: E): readonly string[];
  /** One attempt. Never throws: every failure is a DeliveryResult. */
  deliver(delivery: Delivery, endpoint: E, config: HourglassConfig): Promise<DeliveryResult>;
}

export interface ResolvedEndpoint {
  channel: NotificationChannel;
  endpoint: ChannelEndpoint;
}

/** Every channel's endpoints by name; the first channel wins a name used twice. */
export function channelEndpoints(channels: readonly NotificationChannel[], config: HourglassConfig): Map<string, ResolvedEndpoint> {
  const out = new Map<string, ResolvedEndpoint>();
  for (const channel of channels) {
    for (const endpoint of channel.endpoints(config)) if (!out.has(endpoint.name)) out.set(endpoint.name, { channel, endpoint });
  }
  return out;
}

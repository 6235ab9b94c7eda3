/**
 * The `ticket` message channel: a comment on the request's ticket when its access starts and when it
 * ends (`ticket.comment` policies), through the ticket system's own kind (src/adapters/tickets). One
 * destination per system, `ticket:NAME`; the outbox retries a comment the system refused.
 */
import { performance } from 'node:perf_hooks';
import type { MessageChannel, SendResult } from '../../../app/notifications/ports.js';
import type { TicketSystem } from '../../../app/tickets/ports.js';

const PREFIX = 'ticket:';

export function ticketChannel(systems: readonly TicketSystem[]): MessageChannel {
  return {
    kind: 'ticket',
    destinations: (config) => config.tickets.map((t) => `${PREFIX}${t.name}`),
    personal: () => false,
    updatesInPlace: false,
    secrets: (config) => config.tickets.map((t) => t.token),
    async send(input, config): Promise<SendResult> {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const settings = config.tickets.find((t) => `${PREFIX}${t.name}` === input.destination);
      const kind = settings ? systems.find((s) => s.kind === settings.type) : undefined;
      if (!settings || !kind) return { kind: 'skipped', reason: `${input.destination} is no longer configured`, durationMs: elapsed() };
      if (!input.ticketKey) return { kind: 'skipped', reason: 'the request names no ticket', durationMs: elapsed() };
      try {
        await kind.comment(input.ticketKey, input.message.text, settings, config);
        return { kind: 'sent', durationMs: elapsed() };
      } catch (err) {
        return { kind: 'failed', message: (err as Error).message, durationMs: elapsed() };
      }
    },
  };
}

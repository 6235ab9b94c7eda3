/**
 * Pushed ticket events (`POST /v1/integrations/tickets/NAME/events`): a ticket system tells that a
 * ticket changed; Hourglass re-reads it from the system (the push is only a hint: its body's state is
 * never believed) and ends the access it no longer backs (docs/integrations.md, "Change management").
 */
import { z } from 'zod';
import { HgError } from '../../core/errors.js';
import { sameSecret } from '../../app/identity/secrets.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The ticket key from the shapes systems send: ours `{ key }`, Jira's `{ issue: { key } }`, ServiceNow's `{ number }`. */
export function pushedKey(body: unknown): string | undefined {
  const b = body as { key?: unknown; issue?: { key?: unknown }; number?: unknown } | null;
  const key = b?.key ?? b?.issue?.key ?? b?.number;
  return typeof key === 'string' && KEY.test(key) ? key : undefined;
}

export function ticketRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;
  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/integrations/tickets/:name/events',
    tag: 'notifications',
    auth: 'none',
    summary: 'A ticket changed (pushed by the ticket system): re-read it now, and end the access it no longer backs',
    description:
      'Authenticated with the `x-hourglass-token` header, equal to `tickets[].webhookSecret` (compared in constant time); 401 otherwise, 404 when the system has no webhookSecret. The body names the ticket: `{ "key": "OPS-1" }`, a Jira webhook body (`issue.key`) or a ServiceNow record (`number`). Its state is never believed: Hourglass asks the system.',
    params: z.object({ name: z.string().min(1).max(40) }).strict(),
    headers: z.object({ 'x-hourglass-token': z.string() }),
    body: z.object({}).passthrough(),
    responses: {
      202: {
        description: 'the ticket was re-read',
        schema: z.object({ ticket: z.string(), ended: z.number().int().describe('requests ended because of it') }).strict(),
      },
    },
    handler: async ({ params, req, body, reply }) => {
      const settings = opts.config.current().tickets.find((t) => t.name === params.name);
      if (!settings?.webhookSecret) throw new HgError('HG_NOT_FOUND', `no ticket system ${params.name} takes pushed events`);
      const sent = req.headers['x-hourglass-token'];
      if (typeof sent !== 'string' || !sameSecret(sent, settings.webhookSecret))
        throw new HgError('HG_UNAUTHENTICATED', 'x-hourglass-token is missing or wrong');
      const key = pushedKey(body);
      if (!key) throw new HgError('HG_INVALID_INPUT', 'the body names no ticket: send { "key": "OPS-1" }');
      const ended = await app.tickets.pushed(settings.name, key);
      return reply.status(202).send({ ticket: key, ended });
    },
  });
}

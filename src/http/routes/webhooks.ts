/** Event webhooks: endpoints with their backlog, the delivery log, and redelivery (docs/events.md). */
import { z } from 'zod';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

const time = z.string().datetime().describe('ISO-8601 UTC');

const attempt = z
  .object({
    id: z.string().describe('the attempt id, OUTBOX_ID.ATTEMPT, as sent in Hourglass-Delivery'),
    outboxId: z.string().describe('the `id` in the delivered body; the same for every attempt of one event to one webhook'),
    webhook: z.string(),
    attempt: z.number().int().describe('1 for the first attempt'),
    at: time,
    outcome: z.enum(['delivered', 'failed', 'refused']).describe('refused: not sent (internal address not in server.allowedHosts)'),
    statusCode: z.number().int().nullable().describe("the receiver's HTTP status; null when no answer came"),
    durationMs: z.number().int(),
    error: z.string().nullable().describe('why it failed, never containing the secret'),
  })
  .strict();

export const webhookListResponse = z
  .object({
    webhooks: z.array(
      z
        .object({
          name: z.string(),
          url: z.string().describe('query values redacted; the secret is never shown'),
          events: z.array(z.string()),
          timeoutMs: z.number().int(),
          pending: z.number().int().describe('not delivered, not tried yet'),
          failing: z.number().int().describe('not delivered, at least one attempt failed; retried with backoff'),
          delivered: z.number().int(),
          oldestPendingAgeSeconds: z.number().int().nullable().describe('age of the oldest undelivered event (pending or failing)'),
          lastAttempt: attempt.nullable(),
        })
        .strict(),
    ),
    fanOut: z
      .object({ cursor: z.number().int().describe('last audit seq turned into deliveries'), head: z.number().int().describe('last chained audit seq') })
      .strict(),
  })
  .strict();

export const deliveryListResponse = z
  .object({
    deliveries: z.array(attempt.extend({ eventId: z.string(), eventType: z.string() }).strict()),
    nextCursor: z.string().nullable(),
  })
  .strict();

export const redeliverResponse = z
  .object({
    webhook: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    requestEventId: z.string().describe('id of the webhook.redelivery_requested audit event'),
    queued: z.literal(true),
  })
  .strict();

export const deliveriesQuery = z
  .object({
    endpoint: z.string().max(128).optional().describe('webhook name'),
    status: z.enum(['delivered', 'failed', 'refused']).optional().describe('outcome of the attempt'),
    eventId: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.coerce.number().int().min(1).optional().describe('nextCursor of the previous page'),
  })
  .strict();

const nameParams = z.object({ name: z.string().min(1).max(128) }).strict();
const redeliverBody = z.object({ eventId: z.string().min(1).max(200) }).strict();

export function webhookRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;
  const service = () => app.webhooks;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/webhooks',
    tag: 'webhooks',
    auth: 'bearer',
    summary: 'Configured webhooks with their backlog and last attempt (auditor, admin)',
    responses: { 200: { description: 'the webhooks', schema: webhookListResponse } },
    handler: async ({ principal }) => service().overview(principal),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/webhooks/deliveries',
    tag: 'webhooks',
    auth: 'bearer',
    summary: 'The delivery log: every attempt, newest first (auditor, admin)',
    query: deliveriesQuery,
    responses: { 200: { description: 'a page of attempts', schema: deliveryListResponse } },
    handler: async ({ principal, query: q }) =>
      service().deliveries(principal, {
        limit: q.limit,
        ...(q.endpoint ? { endpoint: q.endpoint } : {}),
        ...(q.status ? { outcome: q.status } : {}),
        ...(q.eventId ? { eventId: q.eventId } : {}),
        ...(q.cursor !== undefined ? { before: q.cursor } : {}),
      }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/webhooks/:name/redeliver',
    tag: 'webhooks',
    auth: 'bearer',
    summary: 'Send one audit event to a webhook again (admin); audited, queued within a scheduler pass',
    params: nameParams,
    body: redeliverBody,
    responses: { 202: { description: 'the redelivery is requested', schema: redeliverResponse } },
    handler: async ({ principal, params, body, reply }) => {
      const result = await service().requestRedelivery(principal, params.name, body.eventId);
      return reply.status(202).send(result);
    },
  });
}

/**
 * Notifications to people: destinations with their backlog, the delivery log, redeeming an
 * approver's one-time link, and the Slack account a principal linked (docs/integrations.md).
 */
import { z } from 'zod';
import { NOTIFICATION_TOPICS } from '../../core/notify-plan.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

const time = z.string().datetime().describe('ISO-8601 UTC');

export const notificationOverviewResponse = z
  .object({
    enabled: z.boolean().describe('a notifications section is configured'),
    destinations: z.array(
      z
        .object({
          destination: z.string().describe('email, slack, slack:CHANNEL_ID or teams:NAME'),
          kind: z.string(),
          personal: z.boolean().describe('one message per recipient (email, slack) or one per event (a shared channel)'),
          pending: z.number().int(),
          failing: z.number().int().describe('not sent, at least one attempt failed; retried with backoff for a day'),
          sent: z.number().int(),
          skipped: z.number().int().describe('final: nobody to send to there (no address), nothing to update, or given up'),
          oldestPendingAgeSeconds: z.number().int().nullable(),
        })
        .strict(),
    ),
    routes: z.array(z.object({ channels: z.array(z.string()), topics: z.array(z.string()), policies: z.array(z.string()) }).strict()),
    fanOut: z.object({ cursor: z.number().int(), head: z.number().int() }).strict(),
  })
  .strict();

export const notificationDeliveriesResponse = z
  .object({
    deliveries: z.array(
      z
        .object({
          id: z.string().describe('NOTIFICATION_ID.ATTEMPT'),
          notificationId: z.string(),
          destination: z.string(),
          recipient: z.string().nullable().describe('the principal; null for a shared channel'),
          topic: z.enum(NOTIFICATION_TOPICS),
          eventId: z.string().describe('the audit event that caused it'),
          requestId: z.string().nullable(),
          attempt: z.number().int(),
          at: time,
          outcome: z.enum(['sent', 'skipped', 'failed']),
          durationMs: z.number().int(),
          error: z.string().nullable().describe('why it failed or was skipped, never containing a secret'),
        })
        .strict(),
    ),
    nextCursor: z.string().nullable(),
  })
  .strict();

const deliveriesQuery = z
  .object({
    destination: z.string().max(80).optional(),
    recipient: z.string().max(128).optional().describe('a principal id'),
    requestId: z.string().max(64).optional(),
    outcome: z.enum(['sent', 'skipped', 'failed']).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.coerce.number().int().min(1).optional().describe('nextCursor of the previous page'),
  })
  .strict();

const tokenBody = z.object({ token: z.string().min(1).max(100).describe('the hgl_ token from the link (after #link= or #chat-link=)') }).strict();

const chatLinkResponse = z.object({ provider: z.literal('slack'), teamId: z.string(), userId: z.string().describe('the Slack user id (U...)') }).strict();

export function notificationRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/notifications',
    tag: 'notifications',
    auth: 'bearer',
    summary: 'Notification destinations with their backlog, and the routes in force (auditor, admin)',
    responses: { 200: { description: 'the destinations', schema: notificationOverviewResponse } },
    handler: async ({ principal }) => app.notifications.overview(principal),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/notifications/deliveries',
    tag: 'notifications',
    auth: 'bearer',
    summary: 'The notification log: every attempt, newest first (auditor, admin)',
    query: deliveriesQuery,
    responses: { 200: { description: 'a page of attempts', schema: notificationDeliveriesResponse } },
    handler: async ({ principal, query: q }) =>
      app.notifications.deliveries(principal, {
        limit: q.limit,
        ...(q.destination ? { destination: q.destination } : {}),
        ...(q.recipient ? { recipient: q.recipient } : {}),
        ...(q.requestId ? { requestId: q.requestId } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.cursor !== undefined ? { before: q.cursor } : {}),
      }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/links/redeem',
    tag: 'notifications',
    auth: 'bearer',
    scope: 'approve',
    summary: "Use an approver's one-time link: it names the request it was sent for",
    description:
      'The web UI calls this when opened from a link in a notification. The link works once, only for the principal it was sent to, until it expires (`notifications.linkLifetime`); otherwise `410 HG_LINK_INVALID` with `details.reason` (`unknown`, `used`, `expired`, `other_person`). It grants nothing: the decision is made on the page, with MFA if the policy asks.',
    body: tokenBody,
    responses: { 200: { description: 'the request the link is for', schema: z.object({ requestId: z.string() }).strict() } },
    handler: async ({ principal, body }) => {
      const link = await app.notifications.links.redeem(principal, body.token, 'approval');
      return { requestId: link.requestId! };
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/integrations/slack/link',
    tag: 'notifications',
    auth: 'bearer',
    summary: 'The Slack account the caller linked, if any, and whether this server talks to Slack',
    responses: {
      200: {
        description: 'the link',
        schema: z.object({ configured: z.boolean().describe('notifications.slack is configured'), link: chatLinkResponse.nullable() }).strict(),
      },
    },
    handler: async ({ principal }) => ({ configured: opts.config.current().notifications?.slack !== undefined, link: await app.chat.linked(principal) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/integrations/slack/link',
    tag: 'notifications',
    auth: 'bearer',
    scope: 'approve',
    summary: 'Link the Slack account a one-time link from Slack names to the caller (audited chat.linked)',
    description:
      "The token comes from the link Hourglass sends in Slack to someone who pressed a decision button unlinked. It is accepted only if the caller's e-mail address is that Slack user's address in the workspace (`users.lookupByEmail`): `403` otherwise.",
    body: tokenBody,
    responses: { 200: { description: 'linked', schema: chatLinkResponse } },
    handler: async ({ principal, body }) => app.chat.link(principal, body.token),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/integrations/slack/unlink',
    tag: 'notifications',
    auth: 'bearer',
    scope: 'approve',
    summary: "Remove the caller's Slack link (audited chat.unlinked); Slack buttons stop working for them",
    responses: { 200: { description: 'whether there was a link', schema: z.object({ unlinked: z.boolean() }).strict() } },
    handler: async ({ principal }) => ({ unlinked: await app.chat.unlink(principal) }),
  });
}

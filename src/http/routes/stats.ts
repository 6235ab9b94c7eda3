/** `GET /v1/stats`: the dashboard's figures over the last days (roles admin, auditor). */
import { z } from 'zod';
import { STATS_MAX_DAYS, statsFor } from '../../app/stats.js';
import { defineRoute } from '../route.js';
import { text } from '../schemas.js';
import { statsResponse } from '../stats-response.js';
import type { RouteContext } from './context.js';

export const statsQuery = z
  .object({
    days: z.coerce.number().int().min(1).max(STATS_MAX_DAYS).default(30).describe('calendar days up to and including today; default 30'),
    tz: text(64).optional().describe('IANA time zone whose calendar days are counted (Europe/Berlin); default UTC'),
  })
  .strict();

export function statsRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;
  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/stats',
    tag: 'audit',
    auth: 'bearer',
    summary: "The dashboard's figures over the last days (roles admin, auditor)",
    description:
      'Per calendar day of `tz` (default UTC), the activations, requests submitted and denied, and break-glass uses; the median ' +
      'and 90th percentile time from submission to approval of requests that needed approval; the 10 most activated ' +
      'entitlements; the latest break-glass uses with their review; live grants ending within the hour; ended grants whose ' +
      'removal is overdue (alert.revocation_overdue raised, or removal running past the longest revocationAlertAfter of its targets).',
    query: statsQuery,
    responses: { 200: { description: 'the figures', schema: statsResponse } },
    handler: ({ query, principal }) => statsFor(app.deps, principal, { days: query.days, ...(query.tz !== undefined ? { timeZone: query.tz } : {}) }),
  });
}

import { z } from 'zod';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

/**
 * GET /metrics: Prometheus text format, for principals with the `metrics` or `admin` role
 * (Prometheus sends the token with `authorization: { credentials: ... }` in its scrape config).
 * Absent registry (`ServerOptions.metrics`): the route does not exist. The shared bearer check in
 * build-server.ts authenticates it, as it does every route declared with `auth: 'bearer'`.
 */
export function metricsRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;
  // Without a registry there is no route at all: 404 whatever the token.
  const registry = opts.metrics?.registry;
  if (!registry) return;

  defineRoute(server, table, {
    method: 'GET',
    url: '/metrics',
    tag: 'operations',
    auth: 'bearer',
    summary: 'Prometheus metrics (roles metrics, admin)',
    description:
      'Prometheus text exposition format 0.0.4: counters and histograms of decisions, events, check latency, due-work lag, ' +
      'webhook deliveries and revocation retries, gauges read from the store at scrape time, and Node process metrics. ' +
      'docs/operations.md lists every metric with suggested alerts. 404 when the server runs without metrics.',
    responses: {
      200: { description: 'the metrics', schema: z.string(), contentType: 'text/plain; version=0.0.4; charset=utf-8' },
    },
    handler: async ({ principal, reply }) => {
      const text = await app.metricsText(principal, registry);
      return reply.status(200).header('content-type', registry.contentType).header('cache-control', 'no-store').send(text);
    },
  });
}

import { z } from 'zod';
import { HgError } from '../../core/errors.js';
import { authenticateToken, hasRole } from '../../app/directory.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

const UNAUTHENTICATED = { error: { code: 'HG_UNAUTHENTICATED', message: 'authentication required' } };

/**
 * GET /metrics: Prometheus text format, for principals with the `metrics` or `admin` role
 * (Prometheus sends the token with `authorization: { credentials: ... }` in its scrape config).
 * Absent registry (`ServerOptions.metrics`): 404, as if the route did not exist.
 */
export function metricsRoutes({ server, table, opts }: RouteContext): void {
  // The shared bearer check covers /v1 only; /metrics lives at the root where Prometheus looks.
  server.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url !== '/metrics') return;
    if (!opts.metrics) return reply.status(404).send({ error: { code: 'HG_NOT_FOUND', message: 'no route GET /metrics' } });
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? '');
    const principal = m ? authenticateToken(opts.config.current(), m[1]!) : undefined;
    if (!principal) return reply.status(401).header('www-authenticate', 'Bearer').send(UNAUTHENTICATED);
    req.principal = principal;
  });

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
      const registry = opts.metrics?.registry;
      if (!registry) throw new HgError('HG_NOT_FOUND', 'no route GET /metrics');
      if (!hasRole(principal, 'metrics', 'admin')) throw new HgError('HG_FORBIDDEN', 'the metrics or admin role is needed');
      const text = await registry.metrics();
      return reply.status(200).header('content-type', registry.contentType).header('cache-control', 'no-store').send(text);
    },
  });
}

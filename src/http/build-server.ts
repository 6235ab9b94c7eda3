/**
 * The thin HTTP shell: authenticate, parse, call a use case, serialise. It never calls listen(),
 * so tests drive it with inject().
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isHgError, type ErrorCode } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { Hourglass } from '../app/hourglass.js';
import type { ConfigSource } from '../app/ports.js';
import type { SchedulerStatus } from '../adapters/scheduler.js';
import { bearerPrincipal } from './authenticate.js';
import { RequestLog, requestIdOf } from './request-log.js';
import { STATUS_OF } from './error-status.js';
import { RouteTable } from './route.js';
import { adminRoutes } from './routes/admin.js';
import { auditRoutes } from './routes/audit.js';
import { grantRoutes } from './routes/grants.js';
import { healthRoutes } from './routes/health.js';
import { requestRoutes } from './routes/requests.js';
import { auditExportRoutes } from './routes/audit-export.js';
import { docsRoutes } from './routes/docs.js';
import { metricsRoutes } from './routes/metrics.js';
import { policyRoutes } from './routes/policies.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface ServerOptions {
  app: Hourglass;
  config: ConfigSource;
  logger?: Logger;
  /** Re-reads the configuration file; absent when the server was started without one. */
  reload?: () => Promise<{ policyHash: string; previousPolicyHash: string }>;
  scheduler?: () => SchedulerStatus;
  schedulerIntervalMs?: number;
  /** Prometheus registry served at GET /metrics (src/adapters/metrics.ts); absent: /metrics answers 404. */
  metrics?: { registry: Registry };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Every route declared with defineRoute (for the OpenAPI document). */
    routeTable: RouteTable;
    /** Request ids and request log lines (request-log.ts). */
    requestLog: RequestLog;
    /** The principal whose bearer token a request presents (see authenticate.ts). */
    authenticate(req: FastifyRequest): Principal | undefined;
    /** Every route Fastify registered, whoever declared it (for the OpenAPI completeness test). */
    registeredRoutes: { method: string; url: string }[];
  }
}

function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: unknown) {
  if (code === 'HG_UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer');
  return reply.status(STATUS_OF[code]).send({ error: { code, message, ...(details !== undefined ? { details } : {}) } });
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { app, config } = opts;
  const settings = config.current().server;
  // Fastify gets no logger: request lines come from RequestLog (request-log.ts says why).
  const requestLog = new RequestLog(opts.logger);
  const server = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimit,
    trustProxy: settings.trustedProxies.length ? settings.trustedProxies : false,
    requestIdHeader: false,
    genReqId: requestIdOf,
    return503OnClosing: true,
  });
  const registeredRoutes: { method: string; url: string }[] = [];
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registeredRoutes.push({ method, url: route.url });
  });
  server.decorate('registeredRoutes', registeredRoutes);
  server.decorateRequest('principal', null);
  server.decorate('authenticate', (req: FastifyRequest) => bearerPrincipal(config, req));
  server.decorate('requestLog', requestLog);
  server.decorateReply('logBegun', false);

  server.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    requestLog.begin(req, reply);
    if (isHgError(err)) {
      if (STATUS_OF[err.code] >= 500) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        requestLog.for(req)?.error({ code: err.code, cause: cause ? { code: cause.code, message: cause.message } : undefined }, err.message);
      }
      return sendError(reply, err.code, err.message, err.details);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 'HG_PAYLOAD_TOO_LARGE', 'request body too large');
    if (err.statusCode === 429) return sendError(reply, 'HG_RATE_LIMITED', 'too many requests; retry later');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'HG_INVALID_INPUT', err.code?.startsWith('FST_ERR_CTP') ? 'request body is not valid JSON' : err.message);
    }
    requestLog.for(req)?.error({ err }, 'unexpected error');
    return sendError(reply, 'HG_INTERNAL', 'internal error; the server log has the details');
  });
  server.setNotFoundHandler((req, reply) => {
    requestLog.begin(req, reply);
    // Under /v1 a stranger learns nothing, not even which paths exist.
    if (req.url.startsWith('/v1/') && !server.authenticate(req)) return sendError(reply, 'HG_UNAUTHENTICATED', 'authentication required');
    return sendError(reply, 'HG_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
  });

  if (settings.rateLimitPerMinute > 0) {
    await server.register(rateLimit, {
      max: settings.rateLimitPerMinute,
      timeWindow: 60_000,
      allowList: (req) => !req.url.startsWith('/v1/'),
      // Per token when one is presented (hashed: the key is kept in memory), else per address.
      keyGenerator: (req) => {
        const auth = req.headers.authorization;
        return auth ? createHash('sha256').update(auth).digest('hex') : req.ip;
      },
      errorResponseBuilder: () => ({ statusCode: 429, code: 'HG_RATE_LIMITED', message: 'too many requests; retry later' }),
    });
  }

  const table = new RouteTable();
  const ctx = { server, table, opts };
  for (const register of [
    healthRoutes,
    requestRoutes,
    grantRoutes,
    auditRoutes,
    auditExportRoutes,
    adminRoutes,
    policyRoutes,
    webhookRoutes,
    metricsRoutes,
    docsRoutes,
  ]) {
    register(ctx);
  }
  server.decorate('routeTable', table);

  return server;
}

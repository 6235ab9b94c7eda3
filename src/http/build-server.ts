/**
 * The thin HTTP shell: authenticate, parse, call a use case, serialise. It never calls listen(),
 * so tests drive it with inject().
 */
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Counter } from 'prom-client';
import { isHgError, type ErrorCode } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import { AuthFailureLimiter, type CredentialBudget, type RetryAfter } from './auth-failure-limiter.js';
import { tokenAuthenticator } from '../app/directory.js';
import { authenticator, isThenable, type Authenticated } from './authenticate.js';
import { dropUnusedAtClose, limitConnections } from './connection-limits.js';
import { sessionCookieOf } from './session-cookie.js';
import type { ServerOptions } from './options.js';
import { RequestLog, requestIdOf } from './request-log.js';
import { checkFastPath } from './check-fast-path.js';
import { STATUS_OF } from './error-status.js';
import { RouteTable } from './route.js';
import { adminRoutes } from './routes/admin.js';
import { auditRoutes } from './routes/audit.js';
import { grantRoutes } from './routes/grants.js';
import { healthRoutes } from './routes/health.js';
import { requestRoutes } from './routes/requests.js';
import { auditExportRoutes } from './routes/audit-export.js';
import { docsRoutes } from './routes/docs.js';
import { liveRoutes } from './routes/live.js';
import { registerWebUi } from './web-ui.js';
import { metricsRoutes } from './routes/metrics.js';
import { policyRoutes } from './routes/policies.js';
import { statsRoutes } from './routes/stats.js';
import { webhookRoutes } from './routes/webhooks.js';
import { notificationRoutes } from './routes/notifications.js';
import { ticketRoutes } from './routes/tickets.js';
import { sshRoutes } from './routes/ssh.js';
import { tokenRoutes } from './routes/tokens.js';
import { identityRoutes } from './routes/identity.js';
import { mfaRoutes } from './routes/mfa.js';

export type { ServerOptions };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** server.authenticate has run for this request and found no principal (it runs at most once). */
    authChecked: boolean;
    /** The body as received, for form posts (a Slack interaction's signature covers these exact bytes). */
    rawBody?: string;
  }
  interface FastifyInstance {
    /** Every route declared with defineRoute (for the OpenAPI document). */
    routeTable: RouteTable;
    /** Request ids and request log lines (request-log.ts). */
    requestLog: RequestLog;
    /**
     * The principal whose bearer token a request presents (see authenticate.ts); throws
     * HG_RATE_LIMITED while the source address is out of its failed-authentication budget.
     */
    authenticate(req: FastifyRequest): Authenticated;
    /** Every route Fastify registered, whoever declared it (for the OpenAPI completeness test). */
    registeredRoutes: { method: string; url: string }[];
    /** Failed authentications per address, for routes that check a credential of their own (SCIM, passwords, refresh). */
    authFailures: CredentialBudget;
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
  const { requestMs, headersMs, keepAliveMs } = settings.timeouts;
  const failures = new AuthFailureLimiter(() => config.current().server.authFailures, app.deps.clock);
  const tokens = opts.authenticator ?? tokenAuthenticator(config);
  let closing = false;
  const httpOptions = {
    requestTimeout: requestMs,
    headersTimeout: headersMs,
    connectionsCheckingInterval: Math.min(1000, Math.floor(headersMs / 2)),
  };
  const server = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimit,
    trustProxy: settings.trustedProxies.length ? settings.trustedProxies : false,
    requestIdHeader: false,
    genReqId: requestIdOf,
    return503OnClosing: true,
    // Against slow clients (docs/operations.md): Node answers 408 and closes a connection whose
    // headers or whole request (body included) do not arrive in time, and closes idle keep-alive
    // connections. It checks every connectionsCheckingInterval, so keep that well below them.
    requestTimeout: requestMs,
    keepAliveTimeout: keepAliveMs,
    maxRequestsPerSocket: settings.maxRequestsPerSocket,
    // Fastify's own server, as it would make it (lib/server.js), with GET /v1/check's fast path
    // in front of its request listener (check-fast-path.ts).
    serverFactory: (handler) => {
      const fast = checkFastPath(
        {
          app,
          authenticator: tokens,
          failures,
          logsRequests: () => requestLog.writesLines(),
          rateLimits: { perMinute: settings.rateLimitPerMinute, checkPerMinute: settings.checkRateLimitPerMinute },
          trustedProxies: settings.trustedProxies,
          closing: () => closing,
        },
        handler,
      );
      const http = createServer(httpOptions, fast);
      http.keepAliveTimeout = keepAliveMs;
      http.requestTimeout = requestMs;
      if (settings.maxRequestsPerSocket > 0) http.maxRequestsPerSocket = settings.maxRequestsPerSocket;
      return http;
    },
  });
  server.addHook('preClose', async () => {
    closing = true;
  });
  // Refusals a busy operator wants to see: a cap reached from behind a proxy refuses real users.
  const refusedCounter = opts.metrics
    ? ((opts.metrics.registry.getSingleMetric('hourglass_http_refused_total') as Counter | undefined) ??
      new Counter({
        name: 'hourglass_http_refused_total',
        help: 'Connections and requests refused by the limits against hostile clients, by reason',
        labelNames: ['reason'],
        registers: [opts.metrics.registry],
      }))
    : undefined;
  const refused = (reason: 'connections_total' | 'connections_per_address' | 'auth_failures') => refusedCounter?.inc({ reason });
  limitConnections(server.server, settings, refused);
  const dropUnused = dropUnusedAtClose(server.server);
  server.addHook('preClose', async () => dropUnused());
  const registeredRoutes: { method: string; url: string }[] = [];
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registeredRoutes.push({ method, url: route.url });
  });
  server.decorate('registeredRoutes', registeredRoutes);
  server.decorate('authFailures', {
    refusedFor: (address: string) => {
      const wait = failures.size > 0 ? failures.retryAfter(address) : 0;
      if (wait > 0) refused('auth_failures');
      return wait;
    },
    fail: (address: string) => failures.fail(address),
  } satisfies CredentialBudget);
  server.decorateRequest('principal', null);
  server.decorateRequest('authChecked', false);
  server.decorate(
    'authenticate',
    authenticator(
      tokens,
      failures,
      () => refused('auth_failures'),
      (req) => sessionCookieOf(req, config.current().server.publicUrl),
    ),
  );
  server.decorate('requestLog', requestLog);
  server.decorateReply('logBegun', false);

  server.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    requestLog.begin(req, reply);
    if (isHgError(err)) {
      const retryAfter = (err as Partial<RetryAfter>).retryAfterSeconds;
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
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
  const webUi = await registerWebUi(server);
  server.setNotFoundHandler((req, reply) => {
    requestLog.begin(req, reply);
    if (webUi.page(req, reply)) return reply;
    // Under /v1 a stranger learns nothing, not even which paths exist.
    const notFound = () => sendError(reply, 'HG_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
    if (!req.url.startsWith('/v1/')) return notFound();
    const answer = (p: Principal | undefined) => (p ? notFound() : sendError(reply, 'HG_UNAUTHENTICATED', 'authentication required'));
    const principal = server.authenticate(req);
    return isThenable(principal) ? principal.then(answer) : answer(principal);
  });

  if (settings.rateLimitPerMinute > 0 || settings.checkRateLimitPerMinute > 0) {
    // A gateway calling /v1/check is not a person: principals with the checker role get a
    // budget of their own there (`rateLimit.checkPerMinute`, off by default).
    const forChecker = (key: string) => key.startsWith('checker:');
    await server.register(rateLimit, {
      max: (_req, key) => (forChecker(key) ? settings.checkRateLimitPerMinute : settings.rateLimitPerMinute),
      timeWindow: 60_000,
      allowList: (req, key) => !req.url.startsWith('/v1/') || (forChecker(key) ? settings.checkRateLimitPerMinute : settings.rateLimitPerMinute) === 0,
      // Per principal when the token authenticates, else per address: a caller who makes up
      // tokens gets no fresh bucket for each. The route reuses this authentication (at most once
      // per request); an address out of failure budget is refused here already. Every /v1 route
      // takes a bearer token (docs/api.md), so authenticating here judges no other kind of caller.
      keyGenerator: (req) => {
        if (!req.url.startsWith('/v1/')) return '';
        const check = req.url === '/v1/check' || req.url.startsWith('/v1/check?');
        const keyOf = (principal: Principal | undefined) =>
          principal ? `${check && principal.roles.includes('checker') ? 'checker' : 'principal'}:${principal.id}` : req.ip;
        const principal = server.authenticate(req);
        return isThenable(principal) ? principal.then(keyOf) : keyOf(principal);
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
    sshRoutes,
    tokenRoutes,
    policyRoutes,
    statsRoutes,
    webhookRoutes,
    notificationRoutes,
    ticketRoutes,
    identityRoutes,
    mfaRoutes,
    liveRoutes,
    metricsRoutes,
    docsRoutes,
    ...(opts.extraRoutes ?? []),
  ]) {
    register(ctx);
  }
  server.decorate('routeTable', table);

  return server;
}

/**
 * The thin HTTP shell: authenticate, parse, call a use case, serialise. It never calls listen(),
 * so tests drive it with inject().
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import { HgError, isHgError, type ErrorCode } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { Hourglass } from '../app/hourglass.js';
import { authenticateToken, hasRole } from '../app/directory.js';
import type { ConfigSource } from '../app/ports.js';
import type { SchedulerStatus } from '../adapters/scheduler.js';
import { STATUS_OF } from './error-status.js';
import { auditJson, grantJson, iso, requestJson } from './serialize.js';
import * as s from './schemas.js';

export interface ServerOptions {
  app: Hourglass;
  config: ConfigSource;
  logger?: Logger;
  /** Re-reads the configuration file; absent when the server was started without one. */
  reload?: () => Promise<{ policyHash: string; previousPolicyHash: string }>;
  scheduler?: () => SchedulerStatus;
  schedulerIntervalMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const UNAUTHENTICATED = { error: { code: 'HG_UNAUTHENTICATED', message: 'authentication required' } };

function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: unknown) {
  return reply.status(STATUS_OF[code]).send({ error: { code, message, ...(details !== undefined ? { details } : {}) } });
}

function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new HgError('HG_UNAUTHENTICATED', 'authentication required');
  return req.principal;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { app, config } = opts;
  const settings = config.current().server;
  const server = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as unknown as FastifyBaseLogger } : { logger: false }),
    bodyLimit: settings.bodyLimit,
    trustProxy: settings.trustedProxies.length ? settings.trustedProxies : false,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
  });
  server.decorateRequest('principal', null);

  server.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    if (isHgError(err)) {
      if (STATUS_OF[err.code] >= 500) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        req.log.error({ code: err.code, cause: cause ? { code: cause.code, message: cause.message } : undefined }, err.message);
      }
      return sendError(reply, err.code, err.message, err.details);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 'HG_PAYLOAD_TOO_LARGE', 'request body too large');
    if (err.statusCode === 429) return sendError(reply, 'HG_RATE_LIMITED', 'too many requests; retry later');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'HG_INVALID_INPUT', err.code?.startsWith('FST_ERR_CTP') ? 'request body is not valid JSON' : err.message);
    }
    req.log.error({ err }, 'unexpected error');
    return sendError(reply, 'HG_INTERNAL', 'internal error; the server log has the details');
  });
  server.setNotFoundHandler((req, reply) => sendError(reply, 'HG_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

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

  // Authentication for every /v1 route; the messages stay bland on purpose.
  server.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/v1/')) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    const principal = m ? authenticateToken(config.current(), m[1]!) : undefined;
    if (!principal) return reply.status(401).header('www-authenticate', 'Bearer').send(UNAUTHENTICATED);
    req.principal = principal;
  });

  // ---- health --------------------------------------------------------------------------------
  server.get('/healthz', async () => ({ ok: true }));
  server.get('/readyz', async (_req, reply) => {
    let store: { ok: boolean; error?: string } = { ok: true };
    try {
      await app.deps.store.ping();
    } catch {
      store = { ok: false, error: 'store unreachable' };
    }
    const sched = opts.scheduler?.();
    const staleAfter = (opts.schedulerIntervalMs ?? 250) * 20 + 5000;
    const schedulerOk = !sched || (sched.running && !sched.lastError && (sched.lastRunAt ?? 0) >= app.deps.clock.now() - staleAfter);
    const v = app.audit.lastVerify;
    const body = {
      ready: store.ok && schedulerOk,
      store,
      scheduler: sched
        ? { ok: schedulerOk, running: sched.running, lastRunAt: iso(sched.lastRunAt), lagMs: sched.lastLagMs, error: sched.lastError ?? null }
        : { ok: true, running: false },
      // A broken chain is reported here but does not make the server unready: revocations must go on.
      audit: v
        ? { ok: v.ok, verifiedAt: iso(v.at), count: v.count, head: v.head, firstBadSeq: v.firstBadSeq ?? null, problem: v.problem ?? null }
        : { ok: true, verifiedAt: null },
    };
    return reply.status(body.ready ? 200 : 503).send(body);
  });

  // ---- caller ----------------------------------------------------------------------------------
  server.get('/v1/me', async (req) => {
    const me = who(req);
    const lock = await app.deps.store.getLock('principal', me.id);
    return { id: me.id, groups: me.groups, roles: me.roles, locked: Boolean(lock) };
  });
  server.get('/v1/entitlements', async (req) => ({ entitlements: app.entitlementsFor(who(req)) }));

  // ---- requests ---------------------------------------------------------------------------------
  server.post('/v1/requests', async (req, reply) => {
    const body = s.parse(s.submitBody, req.body);
    const key = req.headers['idempotency-key'];
    if (Array.isArray(key) || (key !== undefined && (key.length < 1 || key.length > 200))) {
      throw new HgError('HG_INVALID_INPUT', 'Idempotency-Key must be 1-200 characters');
    }
    const { request, replayed } = await app.requests.submit(who(req), body, { sourceIp: req.ip, ...(key ? { idempotencyKey: key } : {}) });
    if (replayed) reply.header('idempotent-replayed', 'true');
    return reply.status(replayed ? 200 : 201).send(requestJson(request));
  });

  server.get('/v1/requests', async (req) => {
    const q = s.parse(s.listRequestsQuery, req.query);
    const page = await app.requests.list(who(req), {
      limit: q.limit,
      ...(q.status ? { status: q.status } : {}),
      ...(q.requester ? { requester: q.requester } : {}),
      ...(q.mine ? { mine: true } : {}),
      ...(q.approvable ? { approvable: true } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
    return { requests: page.requests.map(requestJson), nextCursor: page.nextCursor ?? null };
  });

  server.get<{ Params: { id: string } }>('/v1/requests/:id', async (req) => requestJson(await app.requests.get(who(req), req.params.id)));

  type IdRoute = FastifyRequest<{ Params: { id: string } }>;
  const action = (name: string, run: (req: IdRoute, actor: Principal) => Promise<import('../core/types.js').AccessRequest>) =>
    server.post<{ Params: { id: string } }>(`/v1/requests/:id/${name}`, async (req) => requestJson(await run(req, who(req))));

  action('approve', (req, a) => app.requests.approve(req.params.id, a, s.parse(s.commentBody, req.body).comment));
  action('deny', (req, a) => app.requests.deny(req.params.id, a, s.parse(s.commentBody, req.body).comment));
  action('cancel', (req, a) => app.requests.cancel(req.params.id, a, s.parse(s.reasonBody, req.body).reason));
  action('revoke', (req, a) => app.requests.revoke(req.params.id, a, s.parse(s.reasonBody, req.body).reason));
  action('release', (req, a) => app.requests.release(req.params.id, a, s.parse(s.reasonBody, req.body).reason));
  action('extend', (req, a) => {
    const b = s.parse(s.extendBody, req.body);
    return app.requests.extend(req.params.id, a, b.duration, b.reason);
  });
  action('review', (req, a) => app.requests.review(req.params.id, a, s.parse(s.reviewBody, req.body).comment));

  // ---- grants and check -------------------------------------------------------------------------
  server.get('/v1/check', async (req) => {
    const q = s.parse(s.checkQuery, req.query);
    const r = await app.check(who(req), q.principal, q.entitlement);
    return r.allowed ? { allowed: true, requestId: r.requestId, expiresAt: iso(r.expiresAt) } : { allowed: false };
  });

  server.get('/v1/grants', async (req) => {
    const q = s.parse(s.grantsQuery, req.query);
    const rows = await app.grants(who(req), {
      limit: q.limit,
      ...(q.principal ? { principal: q.principal } : {}),
      ...(q.entitlement ? { entitlement: q.entitlement } : {}),
      ...(q.cursor ? { after: q.cursor } : {}),
    });
    const last = rows.at(-1);
    return { grants: rows.map(grantJson), nextCursor: rows.length === q.limit && last ? `${last.requestId}:${last.entitlement}` : null };
  });

  // ---- audit ----------------------------------------------------------------------------------------
  server.get('/v1/audit', async (req) => {
    const q = s.parse(s.auditQuery, req.query);
    const page = await app.audit.list(who(req), {
      limit: q.limit,
      ...(q.requestId ? { requestId: q.requestId } : {}),
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(q.cursor !== undefined ? { after: q.cursor } : {}),
    });
    return { events: page.events.map(auditJson), nextCursor: page.nextCursor ?? null };
  });
  server.get('/v1/audit/verify', async (req) => {
    const q = s.parse(s.verifyQuery, req.query);
    app.audit.assertReader(who(req));
    await app.audit.chainPending();
    return app.audit.verify(q.expectHead ? { expectHead: q.expectHead } : {});
  });
  server.get('/v1/audit/head', async (req) => app.audit.head(who(req)));

  // ---- emergency controls and administration -------------------------------------------------------
  const admin = (path: string, run: (id: string, actor: Principal, reason?: string) => Promise<unknown>) =>
    server.post<{ Params: { id: string } }>(path, async (req) => run(req.params.id, who(req), s.parse(s.reasonBody, req.body).reason));
  admin('/v1/principals/:id/lock', (id, a, r) => app.emergency.lockPrincipal(a, id, r));
  admin('/v1/principals/:id/unlock', (id, a) => app.emergency.unlockPrincipal(a, id));
  admin('/v1/targets/:id/freeze', (id, a, r) => app.emergency.freezeTarget(a, id, r));
  admin('/v1/targets/:id/unfreeze', (id, a) => app.emergency.unfreezeTarget(a, id));

  server.get('/v1/locks', async (req) => {
    if (!hasRole(who(req), 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the admin or auditor role is needed');
    const [principals, targets] = await Promise.all([app.deps.store.listLocks('principal'), app.deps.store.listLocks('target')]);
    const out = (l: { subject: string; by: string; at: number; reason?: string }) => ({ subject: l.subject, by: l.by, at: iso(l.at), reason: l.reason ?? null });
    return { principals: principals.map(out), targets: targets.map(out) };
  });

  server.post('/v1/reload', async (req) => {
    const actor = who(req);
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can reload the configuration');
    if (!opts.reload) throw new HgError('HG_INVALID_TRANSITION', 'this server was not started from a configuration file');
    const r = await opts.reload();
    await app.recordReload(actor.id, r.previousPolicyHash);
    return r;
  });

  return server;
}

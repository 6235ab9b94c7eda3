import { defineRoute } from '../route.js';
import { healthResponse, readyResponse } from '../responses.js';
import { iso } from '../serialize.js';
import type { RouteContext } from './context.js';

export function healthRoutes({ server, table, opts }: RouteContext) {
  const { app } = opts;
  defineRoute(server, table, {
    method: 'GET',
    url: '/healthz',
    tag: 'health',
    auth: 'none',
    summary: 'Liveness: the process serves',
    responses: { 200: { description: 'alive', schema: healthResponse } },
    handler: async () => ({ ok: true }),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/readyz',
    tag: 'health',
    auth: 'none',
    summary: 'Readiness: store, scheduler and audit chain, each told apart',
    description: 'A broken audit chain is reported here but does not make the server unready: revocations must go on.',
    responses: { 200: { description: 'ready', schema: readyResponse }, 503: { description: 'not ready', schema: readyResponse } },
    handler: async ({ reply }) => {
      const store = await app.storeHealth();
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
        audit: v
          ? {
              ok: v.ok,
              verifiedAt: iso(v.at),
              count: v.count,
              head: v.head,
              firstBadSeq: v.firstBadSeq ?? null,
              problem: v.problem ?? null,
              fullPass: v.fullPass ?? null,
            }
          : { ok: true, verifiedAt: null, fullPass: null },
      };
      return reply.status(body.ready ? 200 : 503).send(body);
    },
  });
}

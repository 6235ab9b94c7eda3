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
    summary: 'Readiness: checks, store, scheduler and audit chain, each told apart',
    description:
      'Ready while this server can answer checks: its check index was confirmed current within `server.checkIndex.staleAfter`, and its scheduler runs. ' +
      'An unreachable store alone does not make it unready (writes get 503 `HG_STORE_UNAVAILABLE`, checks go on within the bound), so a load balancer does not drain every server during a short database outage; ' +
      '`store.ok` and `writable` say so. A broken audit chain is reported but does not make the server unready: revocations must go on.',
    responses: { 200: { description: 'ready', schema: readyResponse }, 503: { description: 'not ready', schema: readyResponse } },
    handler: async ({ reply }) => {
      const store = await app.storeHealth();
      const sched = opts.scheduler?.();
      const staleAfter = (opts.schedulerIntervalMs ?? 250) * 20 + 5000;
      // A scheduler that fails because the store is out is the outage, reported as such, not a stuck scheduler.
      const schedulerOk = !sched || (sched.running && (!store.ok || (!sched.lastError && (sched.lastRunAt ?? 0) >= app.deps.clock.now() - staleAfter)));
      const index = app.deps.checkIndex?.status();
      const checksOk = index ? index.ok : store.ok;
      const v = app.audit.lastVerify;
      const body = {
        ready: checksOk && schedulerOk,
        ...(opts.serverId ? { server: opts.serverId } : {}),
        writable: store.ok,
        checks: index
          ? {
              ok: index.ok,
              source: 'index',
              grants: index.grants,
              seq: index.seq,
              ageMs: index.ageMs === undefined ? null : Math.round(index.ageMs),
              staleAfterMs: index.staleAfterMs,
              error: index.lastError === undefined ? null : 'store unreachable',
            }
          : { ok: checksOk, source: 'store' },
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

import { z } from 'zod';
import type { Principal } from '../../core/types.js';
import { defineRoute } from '../route.js';
import { emergencyResponse, locksResponse, reloadResponse } from '../responses.js';
import * as s from '../schemas.js';
import { iso } from '../serialize.js';
import type { RouteContext } from './context.js';

const nameParams = z.object({ id: z.string().min(1).max(200) });

export function adminRoutes({ server, table, opts }: RouteContext) {
  const { app } = opts;

  const emergency = (url: string, summary: string, run: (id: string, actor: Principal, reason?: string) => Promise<unknown>) =>
    defineRoute(server, table, {
      method: 'POST',
      url,
      tag: 'emergency',
      auth: 'bearer',
      summary,
      params: nameParams,
      body: s.reasonBody,
      responses: { 200: { description: 'what changed', schema: emergencyResponse } },
      handler: async ({ params, principal, body }) => run(params.id, principal, body.reason),
    });
  emergency('/v1/principals/:id/lock', 'Lock a principal: revoke their grants, cancel pending requests, refuse new ones (admin)', (id, a, r) =>
    app.emergency.lockPrincipal(a, id, r),
  );
  emergency('/v1/principals/:id/unlock', 'Unlock a principal (admin)', (id, a) => app.emergency.unlockPrincipal(a, id));
  emergency('/v1/targets/:id/freeze', 'Freeze a target: revoke every grant on it, refuse new ones (admin)', (id, a, r) => app.emergency.freezeTarget(a, id, r));
  emergency('/v1/targets/:id/unfreeze', 'Unfreeze a target (admin)', (id, a) => app.emergency.unfreezeTarget(a, id));

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/locks',
    tag: 'emergency',
    auth: 'bearer',
    summary: 'Locked principals and frozen targets (admin, auditor)',
    responses: { 200: { description: 'locks', schema: locksResponse } },
    handler: async ({ principal }) => {
      const { principals, targets } = await app.emergency.listLocks(principal);
      const out = (l: { subject: string; by: string; at: number; reason?: string }) => ({
        subject: l.subject,
        by: l.by,
        at: iso(l.at),
        reason: l.reason ?? null,
      });
      return { principals: principals.map(out), targets: targets.map(out) };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/reload',
    tag: 'admin',
    auth: 'bearer',
    summary: 'Re-read the configuration file; new decisions use it (admin)',
    responses: { 200: { description: 'the new and previous policy hashes', schema: reloadResponse } },
    handler: async ({ principal }) => app.reloadConfig(principal),
  });
}

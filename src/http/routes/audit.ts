import { defineRoute } from '../route.js';
import { auditListResponse, headResponse, verifyResponse } from '../responses.js';
import * as s from '../schemas.js';
import { auditJson } from '../serialize.js';
import type { RouteContext } from './context.js';

export function auditRoutes({ server, table, opts }: RouteContext) {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Audit events, oldest first (roles auditor, admin)',
    query: s.auditQuery,
    responses: { 200: { description: 'a page of events', schema: auditListResponse } },
    handler: async ({ query: q, principal }) => {
      const page = await app.audit.list(principal, {
        limit: q.limit,
        ...(q.requestId ? { requestId: q.requestId } : {}),
        ...(q.actor ? { actor: q.actor } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
        ...(q.until !== undefined ? { until: q.until } : {}),
        ...(q.cursor !== undefined ? { after: q.cursor } : {}),
      });
      return { events: page.events.map(auditJson), nextCursor: page.nextCursor ?? null };
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/verify',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Verify the hash chain; `expectHead` (SEQ:HASH) catches truncation',
    query: s.verifyQuery,
    responses: { 200: { description: 'the verification result', schema: verifyResponse } },
    handler: async ({ query, principal }) => app.audit.verifyFor(principal, query.expectHead ? { expectHead: query.expectHead } : {}),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/head',
    tag: 'audit',
    auth: 'bearer',
    summary: 'The chain head, to pin outside the database',
    responses: { 200: { description: 'the head', schema: headResponse } },
    handler: async ({ principal }) => app.audit.head(principal),
  });
}

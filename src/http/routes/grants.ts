import type { CheckResult } from '../../app/check-access.js';
import { defineRoute } from '../route.js';
import { checkBatchResponse, checkResponse, grantListResponse } from '../responses.js';
import * as s from '../schemas.js';
import { checkAnswerJson, grantJson } from '../serialize.js';
import type { RouteContext } from './context.js';

export function grantRoutes({ server, table, opts }: RouteContext) {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/check',
    tag: 'grants',
    auth: 'bearer',
    scope: 'check',
    summary: 'Does a principal hold an entitlement right now? (roles checker, admin)',
    description:
      "Answers from the server's in-memory index of live grants, `allowed: false` from `expiresAt` on even if the expiry transition has not run yet. " +
      'A server that could not confirm its index is current within `server.checkIndex.staleAfter` answers `allowed: false` with `reason: stale_index` and a `detail`.',
    query: s.checkQuery,
    responses: { 200: { description: 'the answer', schema: checkResponse } },
    endOfTurnReply: true,
    handler: ({ query, principal }) => {
      const started = performance.now();
      const answer = (r: CheckResult) => {
        app.deps.metrics?.checkLatency((performance.now() - started) / 1000, r.allowed);
        return checkAnswerJson(r);
      };
      const r = app.check(principal, query.principal, query.entitlement);
      return r instanceof Promise ? r.then(answer) : answer(r);
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/check',
    tag: 'grants',
    auth: 'bearer',
    scope: 'check',
    summary: 'Batch check: many principal/entitlement pairs at once, for gateways (roles checker, admin)',
    description: `Up to ${s.CHECK_BATCH_MAX} pairs; each is answered as \`GET /v1/check\` would answer it now, in the order asked. One call counts once against the rate limit.`,
    body: s.checkBatchBody,
    responses: { 200: { description: 'the answers', schema: checkBatchResponse } },
    handler: async ({ body, principal }) => {
      const started = performance.now();
      const results = [];
      for (const q of body.checks) {
        const r = await app.check(principal, q.principal, q.entitlement);
        results.push({ principal: q.principal, entitlement: q.entitlement, ...checkAnswerJson(r) });
      }
      const seconds = (performance.now() - started) / 1000;
      for (const r of results) app.deps.metrics?.checkLatency(seconds / results.length, r.allowed);
      return { results };
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/grants',
    tag: 'grants',
    auth: 'bearer',
    summary: 'Live grants (your own, or all for admins, auditors and checkers)',
    query: s.grantsQuery,
    responses: { 200: { description: 'a page of grants', schema: grantListResponse } },
    handler: async ({ query: q, principal }) => {
      const rows = await app.grants(principal, {
        limit: q.limit,
        ...(q.principal ? { principal: q.principal } : {}),
        ...(q.entitlement ? { entitlement: q.entitlement } : {}),
        ...(q.cursor ? { after: q.cursor } : {}),
      });
      const last = rows.at(-1);
      return { grants: rows.map(grantJson), nextCursor: rows.length === q.limit && last ? `${last.requestId}:${last.entitlement}` : null };
    },
  });
}

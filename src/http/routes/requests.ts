import { z } from 'zod';
import { HgError } from '../../core/errors.js';
import type { AccessRequest, Principal } from '../../core/types.js';
import { defineRoute, type Scope } from '../route.js';
import { hhmm } from '../../core/policy.js';
import { requestContext } from '../../app/request-context.js';
import { credentialsResponse, entitlementsResponse, meResponse, requestContextResponse, requestListResponse, requestResponse } from '../responses.js';
import * as s from '../schemas.js';
import { iso, requestJson } from '../serialize.js';
import type { RouteContext } from './context.js';
import { proofSchema, toProof } from './mfa.js';

const idParams = z.object({ id: z.string().min(1).max(200) });

// A policy that requires step-up MFA (docs/policies.md) takes a proof with the call it guards.
const withProof = {
  mfa: proofSchema.optional().describe('a step-up MFA proof, when a policy requires one: the answer to POST /v1/mfa/challenges (docs/identity.md)'),
};
const submitBody = s.submitBody.extend(withProof);
const approveBody = s.commentBody.extend(withProof);
const credentialsBody = s.credentialsBody.removeDefault().extend(withProof).default({});

export function requestRoutes({ server, table, opts }: RouteContext) {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/me',
    tag: 'caller',
    auth: 'bearer',
    summary: 'The calling principal',
    responses: { 200: { description: 'the caller', schema: meResponse } },
    handler: async ({ principal }) => app.me(principal),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/entitlements',
    tag: 'caller',
    auth: 'bearer',
    summary: "What the caller may request, with each applicable policy's terms",
    responses: { 200: { description: 'entitlements', schema: entitlementsResponse } },
    handler: async ({ principal }) => ({ entitlements: app.entitlementsFor(principal) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/requests',
    scope: 'request',
    tag: 'requests',
    auth: 'bearer',
    summary: 'Request entitlements for a duration',
    description:
      'An `Idempotency-Key` header makes a retried POST return the first result (200, header `idempotent-replayed: true`). ' +
      'A self-service request on the built-in target is answered 201 with status `active`.',
    body: submitBody,
    headers: z.object({
      'idempotency-key': z.string().min(1).max(200).optional().describe('a retried POST with the same key and body returns the first result'),
    }),
    responses: {
      201: { description: 'created', schema: requestResponse },
      200: { description: 'idempotent replay of an earlier POST', schema: requestResponse },
    },
    handler: async ({ body, principal, req, reply }) => {
      const key = req.headers['idempotency-key'];
      if (Array.isArray(key) || (key !== undefined && (key.length < 1 || key.length > 200))) {
        throw new HgError('HG_INVALID_INPUT', 'Idempotency-Key must be 1-200 characters');
      }
      const { mfa, ...ask } = body;
      const { request, replayed } = await app.requests.submit(principal, ask, {
        sourceIp: req.ip,
        ...(key ? { idempotencyKey: key } : {}),
        ...(mfa ? { mfa: toProof(mfa) } : {}),
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(replayed ? 200 : 201).send(requestJson(request));
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/requests',
    tag: 'requests',
    auth: 'bearer',
    summary: 'List requests the caller may see, newest first',
    query: s.listRequestsQuery,
    responses: { 200: { description: 'a page of requests', schema: requestListResponse } },
    handler: async ({ query: q, principal }) => {
      const page = await app.requests.list(principal, {
        limit: q.limit,
        ...(q.status ? { status: q.status } : {}),
        ...(q.requester ? { requester: q.requester } : {}),
        ...(q.mine ? { mine: true } : {}),
        ...(q.approvable ? { approvable: true } : {}),
        ...(q.reviewable ? { reviewable: true } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { requests: page.requests.map(requestJson), nextCursor: page.nextCursor ?? null };
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/requests/:id',
    tag: 'requests',
    auth: 'bearer',
    summary: 'One request',
    params: idParams,
    responses: { 200: { description: 'the request', schema: requestResponse } },
    handler: async ({ params, principal }) => requestJson(await app.requests.get(principal, params.id)),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/requests/:id/context',
    tag: 'requests',
    auth: 'bearer',
    summary: "An approver's context: what the entitlements give, the requester's history, risk hints",
    description:
      "For the request's approvers and reviewers (not its requester), admins and auditors; 404 for anyone else. " +
      'Hints: `break_glass`, `first_time` (no earlier request of the requester for that entitlement), `outside_hours` ' +
      "(requested outside Mon-Fri 07:00-19:00 in the time zone of the request's policy window, else UTC), " +
      "`long_duration` (at least 75% of the policy's maxDuration).",
    params: idParams,
    responses: { 200: { description: 'the context', schema: requestContextResponse } },
    handler: async ({ params, principal }) => {
      const c = await requestContext(app.deps, principal, params.id);
      return {
        requestId: c.requestId,
        entitlements: c.entitlements.map((e) => ({ ...e, kind: e.kind ?? null, description: e.description ?? null })),
        history: c.history.map((r) => ({
          id: r.id,
          entitlements: r.entitlements,
          status: r.status,
          policy: [...new Set(Object.values(r.policies))].join(','),
          breakGlass: r.breakGlass,
          durationSeconds: Math.round(r.durationMs / 1000),
          requestedAt: iso(r.requestedAt),
          activatedAt: iso(r.activatedAt),
          endedAt: iso(r.endedAt),
          endReason: r.endReason ?? null,
        })),
        hints: c.hints.map((h) => ({ code: h.code, message: h.message, entitlement: h.entitlement ?? null })),
        usualHours: { days: c.usualHours.days, from: hhmm(c.usualHours.from), to: hhmm(c.usualHours.to), timezone: c.usualHours.timezone },
      };
    },
  });

  const action = <B extends z.ZodTypeAny>(
    name: string,
    scope: Scope,
    summary: string,
    body: B,
    run: (id: string, actor: Principal, body: z.output<B>) => Promise<AccessRequest>,
  ) =>
    defineRoute(server, table, {
      method: 'POST',
      url: `/v1/requests/:id/${name}`,
      tag: 'requests',
      auth: 'bearer',
      scope,
      summary,
      params: idParams,
      body,
      responses: { 200: { description: 'the request after the change', schema: requestResponse } },
      handler: async ({ params, principal, body: b }) => requestJson(await run(params.id, principal, b as z.output<B>)),
    });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/requests/:id/credentials',
    scope: 'request',
    tag: 'requests',
    auth: 'bearer',
    summary: 'The credentials of your active grant (every retrieval and issue is audited)',
    description:
      'Only the requester, only while the grant is active. Keys of `targets` are target names. Targets that issue on request get ' +
      '`{ kind, credentials: [...] }`, one per entitlement: an ssh target certifies `publicKey` (docs/targets/ssh.md).',
    params: idParams,
    body: credentialsBody,
    responses: { 200: { description: 'credentials per target', schema: credentialsResponse } },
    handler: async ({ params, principal, body, reply }) => {
      const c = await app.credentials(principal, params.id, {
        ...(body.publicKey !== undefined ? { publicKey: body.publicKey } : {}),
        ...(body.target !== undefined ? { target: body.target } : {}),
        ...(body.mfa ? { mfa: toProof(body.mfa) } : {}),
      });
      reply.header('cache-control', 'no-store');
      return { requestId: c.requestId, expiresAt: new Date(c.expiresAt).toISOString(), targets: c.targets };
    },
  });

  action('approve', 'approve', 'Approve a pending request (or a pending extension)', approveBody, (id, a, b) =>
    app.requests.approve(id, a, b.comment, b.mfa ? toProof(b.mfa) : undefined),
  );
  action('deny', 'approve', 'Deny a pending request (or a pending extension)', s.commentBody, (id, a, b) => app.requests.deny(id, a, b.comment));
  action('cancel', 'request', 'Cancel your own pending or scheduled request', s.reasonBody, (id, a, b) => app.requests.cancel(id, a, b.reason));
  action('revoke', 'approve', "End a grant (admins and the request's approvers)", s.reasonBody, (id, a, b) => app.requests.revoke(id, a, b.reason));
  action('release', 'request', 'End your own grant early: task done', s.reasonBody, (id, a, b) => app.requests.release(id, a, b.reason));
  action('extend', 'request', "Extend your active grant within the policy's maxTotal", s.extendBody, (id, a, b) =>
    app.requests.extend(id, a, b.duration, b.reason),
  );
  action('review', 'approve', 'Review a break-glass grant', s.reviewBody, (id, a, b) => app.requests.review(id, a, b.comment));
}

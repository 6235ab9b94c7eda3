/**
 * Sessions, personal and machine tokens (docs/identity.md). The sign-in routes of each identity
 * provider live in its adapter folder (src/adapters/identity/*); these work whatever signed in.
 */
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { HgError, isHgError } from '../../core/errors.js';
import { withinBudget } from '../auth-failure-limiter.js';
import { defineRoute, SCOPES } from '../route.js';
import * as s from '../schemas.js';
import { clearSessionCookie } from '../session-cookie.js';
import type { RouteContext } from './context.js';

const idParams = z.object({ id: z.string().min(1).max(64) });
const principalQuery = z.object({ principal: z.string().min(1).max(128).optional() }).strict();

const sessionShape = z
  .object({
    id: z.string(),
    principal: z.string(),
    source: z.string(),
    client: z.enum(['browser', 'cli']),
    createdAt: z.string(),
    lastSeenAt: z.string(),
    expiresAt: z.string(),
    authTime: z.string().optional(),
    amr: z.array(z.string()),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
    current: z.boolean().optional(),
  })
  .strict();
const tokenShape = z
  .object({
    id: z.string(),
    principal: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.string(),
    createdBy: z.string(),
    expiresAt: z.string(),
    lastUsedAt: z.string().optional(),
  })
  .strict();
const machineShape = z
  .object({
    id: z.string(),
    kind: z.literal('machine'),
    groups: z.array(z.string()),
    description: z.string().optional(),
    active: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();

const tokenBody = z
  .object({
    name: s.text(100, 1),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
    expiresIn: s.text(16, 1).optional().describe('a duration such as 30d; default identity.tokens.defaultLifetime'),
    principal: s.text(128, 1).optional().describe('a machine principal (admin); default: yourself'),
  })
  .strict();
const machineBody = z.object({ id: s.text(128, 1), groups: z.array(s.text(200, 1)).max(100).default([]), description: s.text(200).optional() }).strict();

function durationOf(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new HgError('HG_INVALID_INPUT', `expiresIn: ${JSON.stringify(text)} is not a duration such as 30d`);
  }
}

export function identityRoutes({ server, table, opts }: RouteContext) {
  const identity = opts.identity;
  if (!identity) return;
  const publicUrl = () => opts.config.current().server.publicUrl;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/auth/session',
    tag: 'identity',
    auth: 'bearer',
    summary: 'Who you are signed in as, and the CSRF token cookie-authenticated writes send in x-csrf-token',
    responses: {
      200: {
        description: 'the principal and, when signed in with a session, the session',
        schema: z.object({
          principal: z.object({ id: z.string(), groups: z.array(z.string()), roles: z.array(z.string()) }),
          session: sessionShape.optional(),
          csrfToken: z.string().optional(),
        }),
      },
    },
    handler: async ({ principal }) => {
      const auth = principal.auth;
      const session = auth?.kind === 'session' ? (await identity.sessions.list(principal)).find((x) => x.id === auth.id) : undefined;
      return {
        principal: { id: principal.id, groups: principal.groups, roles: principal.roles },
        ...(session ? { session } : {}),
        ...(auth?.csrf ? { csrfToken: auth.csrf } : {}),
      };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/auth/logout',
    tag: 'identity',
    auth: 'bearer',
    scope: 'read',
    summary: 'Sign this session out (the cookie is cleared)',
    responses: { 200: { description: 'whether a session ended', schema: z.object({ signedOut: z.boolean() }) } },
    handler: async ({ principal, reply }) => {
      const auth = principal.auth;
      const signedOut = auth?.kind === 'session' ? await identity.sessions.revoke(principal, auth.id) : false;
      if (auth?.cookie) clearSessionCookie(reply, publicUrl());
      return { signedOut };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/auth/refresh',
    tag: 'identity',
    auth: 'none',
    summary: "Swap the CLI's refresh token for a new access and refresh token (each refresh token works once)",
    body: z.object({ refreshToken: s.text(100, 1) }).strict(),
    responses: {
      200: { description: 'new tokens', schema: z.object({ accessToken: z.string(), refreshToken: z.string(), expiresAt: z.string(), principal: z.string() }) },
    },
    handler: async ({ body, req }) => {
      // A refresh token is a credential: a wrong one counts against the address like a guessed token.
      const r = await withinBudget(
        server.authFailures,
        req.ip,
        () => identity.sessions.refresh(body.refreshToken, { ip: req.ip }),
        (err) => isHgError(err) && err.code === 'HG_UNAUTHENTICATED',
      );
      return { accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: new Date(r.expiresAt).toISOString(), principal: r.session.principal };
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/sessions',
    tag: 'identity',
    auth: 'bearer',
    summary: "Your open sessions (an admin may name another principal's)",
    query: principalQuery,
    responses: { 200: { description: 'sessions', schema: z.object({ sessions: z.array(sessionShape) }) } },
    handler: async ({ principal, query }) => ({ sessions: await identity.sessions.list(principal, query.principal) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/sessions/:id/revoke',
    tag: 'identity',
    auth: 'bearer',
    scope: 'read',
    summary: 'Sign one session out (yours, or any as admin)',
    params: idParams,
    responses: { 200: { description: 'whether it was open', schema: z.object({ revoked: z.boolean() }) } },
    handler: async ({ principal, params }) => ({ revoked: await identity.sessions.revoke(principal, params.id) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/sessions/revoke-all',
    tag: 'identity',
    auth: 'bearer',
    scope: 'read',
    summary: 'Sign out everywhere: every session of yours (or, as admin, of `principal`)',
    body: z
      .object({ principal: s.text(128, 1).optional() })
      .strict()
      .default({}),
    responses: { 200: { description: 'how many sessions ended', schema: z.object({ sessions: z.number() }) } },
    handler: async ({ principal, body }) => identity.sessions.revokeAll(principal, body.principal ?? principal.id, 'sign out everywhere'),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/tokens',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: "Create a personal access token (or, as admin, a machine principal's token); the token is shown once",
    body: tokenBody,
    responses: { 201: { description: 'the token, shown this once', schema: tokenShape.extend({ token: z.string() }) } },
    handler: async ({ principal, body, reply }) => {
      const created = await identity.tokens.create(principal, {
        name: body.name,
        scopes: body.scopes,
        ...(body.expiresIn ? { expiresInMs: durationOf(body.expiresIn) } : {}),
        ...(body.principal ? { principal: body.principal } : {}),
      });
      reply.status(201);
      return created;
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/tokens',
    tag: 'identity',
    auth: 'bearer',
    summary: "Live tokens: yours, or (admin, auditor) everyone's or those of `principal`",
    query: principalQuery,
    responses: { 200: { description: 'tokens (never their secrets)', schema: z.object({ tokens: z.array(tokenShape) }) } },
    handler: async ({ principal, query }) => ({ tokens: await identity.tokens.list(principal, query.principal) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/tokens/:id/revoke',
    tag: 'identity',
    auth: 'bearer',
    scope: 'read',
    summary: 'Revoke a token (yours, or any as admin)',
    params: idParams,
    responses: { 200: { description: 'whether it was live', schema: z.object({ revoked: z.boolean() }) } },
    handler: async ({ principal, params }) => ({ revoked: await identity.tokens.revoke(principal, params.id) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/machines',
    tag: 'identity',
    auth: 'bearer',
    summary: 'Register a machine principal (CI job, bot, AI agent), or change its groups (admin)',
    body: machineBody,
    responses: { 200: { description: 'the machine principal', schema: machineShape } },
    handler: async ({ principal, body }) =>
      identity.tokens.registerMachine(principal, { id: body.id, groups: body.groups, ...(body.description ? { description: body.description } : {}) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/machines/:id/retire',
    tag: 'identity',
    auth: 'bearer',
    summary: 'Retire a machine principal: its tokens stop working and its grants end at once (admin)',
    params: z.object({ id: z.string().min(1).max(128) }),
    responses: {
      200: {
        description: 'what ended',
        schema: z.object({ revoked: z.array(z.string()), cancelled: z.array(z.string()), sessions: z.number(), tokens: z.number() }),
      },
    },
    handler: async ({ principal, params, req }) => identity.tokens.retireMachine(principal, params.id, req.id),
  });
}

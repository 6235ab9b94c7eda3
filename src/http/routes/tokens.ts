import { z } from 'zod';
import { defineRoute } from '../route.js';
import { text } from '../schemas.js';
import type { RouteContext } from './context.js';

const targetParams = z.object({ name: z.string().min(1).max(63) });

const jwksResponse = z
  .object({ keys: z.array(z.object({ kty: z.string(), crv: z.string(), x: z.string(), kid: z.string(), alg: z.string(), use: z.string() }).passthrough()) })
  .strict();

const introspectBody = z
  .object({
    token: text(8192, 1).describe('the token to introspect'),
    token_type_hint: z.string().max(64).optional().describe('ignored: Hourglass issues access tokens only (RFC 7662 §2.1)'),
  })
  .strict();

const introspectResponse = z
  .object({
    active: z.boolean(),
    token_type: z.literal('Bearer').optional(),
    username: z.string().optional(),
    iss: z.string().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    nbf: z.number().int().optional(),
    jti: z.string().optional(),
    hourglass: z.object({ request: z.string(), entitlement: z.string(), serial: z.number().int() }).optional(),
  })
  .passthrough();

/** Token targets: the signing keys resource servers verify with, and RFC 7662 introspection. */
export function tokenRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;

  // RFC 7662 clients send the token as a form; JSON works too. Slack posts interactions as a form
  // signed over its exact bytes, so they are kept (adapters/notifiers/slack/routes.ts).
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body as string;
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const jwks = async (name?: string) => app.issued.jwks(name);
  const keysReply = { 200: { description: 'the keys', schema: jwksResponse, contentType: 'application/jwk-set+json' } };

  defineRoute(server, table, {
    method: 'GET',
    url: '/.well-known/jwks.json',
    tag: 'tokens',
    auth: 'none',
    summary: 'The public keys of every token target (JWKS, RFC 7517)',
    description: 'The key in force of each token target, and earlier keys while a token they signed has not expired. Public; cache for a minute at most.',
    responses: keysReply,
    handler: async ({ reply }) =>
      reply
        .header('content-type', 'application/jwk-set+json')
        .header('cache-control', 'public, max-age=60')
        .send(await jwks()),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/targets/:name/token/jwks.json',
    tag: 'tokens',
    auth: 'none',
    summary: "A token target's public keys (JWKS)",
    params: targetParams,
    responses: keysReply,
    handler: async ({ params, reply }) =>
      reply
        .header('content-type', 'application/jwk-set+json')
        .header('cache-control', 'public, max-age=60')
        .send(await jwks(params.name)),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/targets/:name/token/introspect',
    scope: 'check',
    tag: 'tokens',
    auth: 'bearer',
    summary: 'Is this token active? (RFC 7662; roles checker, admin)',
    description:
      '`token` as a form field (`application/x-www-form-urlencoded`, as RFC 7662 has it) or in JSON. `active: false` for a token that does not ' +
      'verify, has expired, was not issued here, or whose grant has ended (at once, also when it ended early); else its claims.',
    params: targetParams,
    body: introspectBody,
    responses: { 200: { description: 'the answer', schema: introspectResponse } },
    handler: async ({ params, body, principal, reply }) => {
      reply.header('cache-control', 'no-store');
      return app.issued.introspect(principal, params.name, body.token);
    },
  });
}

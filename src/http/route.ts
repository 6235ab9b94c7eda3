/**
 * Routes are declared once with their zod schemas: the same declaration validates input at run
 * time and describes the route in the OpenAPI document (src/http/openapi.ts), so the two cannot
 * drift apart.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import { isThenable } from './authenticate.js';
import { replyAtEndOfTurn } from './end-of-turn-replies.js';
import { parse } from './schemas.js';
import { CSRF_HEADER } from './session-cookie.js';
import { sameSecret } from '../app/identity/secrets.js';

export interface RouteInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  principal: Principal;
  req: FastifyRequest;
  reply: FastifyReply;
}

type Out<S> = S extends z.ZodTypeAny ? z.output<S> : undefined;

export interface RouteSpec<
  B extends z.ZodTypeAny | undefined = undefined,
  Q extends z.ZodTypeAny | undefined = undefined,
  P extends z.ZodTypeAny | undefined = undefined,
> {
  method: 'GET' | 'POST';
  /** Fastify form: `/v1/requests/:id`. */
  url: string;
  summary: string;
  description?: string;
  tag: string;
  /** `bearer`: a principal's token (every /v1 route); `none`: open (health). */
  auth: 'bearer' | 'none';
  /**
   * The token scope the route needs (docs/identity.md, "Scopes"): a personal or machine token
   * with scopes reaches only routes whose scope it holds. Default: `read` for GET, `admin` for POST.
   */
  scope?: Scope;
  body?: B;
  query?: Q;
  params?: P;
  /** Request headers the route reads (documentation only; the handler validates them). */
  headers?: z.ZodTypeAny;
  /** Status -> description and body schema (errors share one schema and need not be listed). */
  responses: Record<number, { description: string; schema?: z.ZodTypeAny; contentType?: string }>;
  /** May answer synchronously: Fastify then replies in the same tick (or at the end of the turn, see endOfTurnReply). */
  handler: (input: RouteInput<Out<B>, Out<Q>, Out<P>>) => unknown;
  /**
   * A synchronous answer is written with the other answers of the event-loop turn rather than at
   * once (src/http/end-of-turn-replies.ts): for a hot route whose answers are cheap next to the
   * write that sends them.
   */
  endOfTurnReply?: boolean;
}

export const SCOPES = ['read', 'request', 'approve', 'check', 'agent', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Fail closed: a scoped token reaches a route only when it holds the route's scope; a write
 * made with the session cookie must carry the session's CSRF token (a cross-site form cannot
 * read it), and must not come from another origin.
 */
function checkScope(principal: Principal, scope: Scope, req: FastifyRequest, write: boolean): void {
  const auth = principal.auth;
  if (auth?.scopes && !auth.scopes.includes(scope)) throw new HgError('HG_FORBIDDEN', `this token lacks the ${scope} scope`);
  if (write && auth?.cookie) {
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !auth.csrf || !sameSecret(sent, auth.csrf)) {
      throw new HgError('HG_FORBIDDEN', `a write with the session cookie needs the ${CSRF_HEADER} header from GET /v1/auth/session`);
    }
  }
}

export type AnyRouteSpec = RouteSpec<z.ZodTypeAny | undefined, z.ZodTypeAny | undefined, z.ZodTypeAny | undefined>;

/** Every route declared through `defineRoute`, for the OpenAPI document and its completeness test. */
export class RouteTable {
  readonly specs: AnyRouteSpec[] = [];
}

export function defineRoute<
  B extends z.ZodTypeAny | undefined = undefined,
  Q extends z.ZodTypeAny | undefined = undefined,
  P extends z.ZodTypeAny | undefined = undefined,
>(server: FastifyInstance, table: RouteTable, spec: RouteSpec<B, Q, P>): void {
  table.specs.push(spec as unknown as AnyRouteSpec);
  const bearer = spec.auth === 'bearer';
  const scope: Scope = spec.scope ?? (spec.method === 'GET' ? 'read' : 'admin');
  server.route({
    method: spec.method,
    url: spec.url,
    // A route that takes a body authenticates before the body is read, so no stranger's body is
    // ever parsed; a GET has none and authenticates in the handler (no hook on the hot path).
    ...(bearer && spec.method !== 'GET'
      ? {
          onRequest: (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
            const settle = (p: Principal | undefined) => {
              req.principal = p ?? null;
              done(p ? undefined : unauthenticated());
            };
            const principal = server.authenticate(req);
            if (isThenable(principal)) principal.then(settle, done);
            else settle(principal);
          },
        }
      : {}),
    // Not async: a value returned synchronously is sent at once, a promise is awaited by Fastify,
    // and a synchronous throw reaches the error handler like a rejection.
    handler: (req, reply) => {
      server.requestLog.begin(req, reply);
      if (bearer && !req.principal) {
        const principal = server.authenticate(req);
        // An asynchronous Authenticator: this request waits; a synchronous one keeps the same tick.
        if (isThenable(principal)) {
          return principal.then((p) => {
            if (!p) throw unauthenticated();
            return run(req, reply, false);
          });
        }
        if (!principal) throw unauthenticated();
      }
      return run(req, reply, spec.endOfTurnReply === true);
    },
  });

  /** Parse, call, and send; `endOfTurn` only where Fastify takes the return synchronously (not inside a promise). */
  function run(req: FastifyRequest, reply: FastifyReply, endOfTurn: boolean): unknown {
    if (bearer) checkScope(req.principal!, scope, req, spec.method !== 'GET');
    const input = {
      body: (spec.body ? parse(spec.body, req.body) : undefined) as Out<B>,
      query: (spec.query ? parse(spec.query, req.query, 'query') : undefined) as Out<Q>,
      params: (spec.params ? parse(spec.params, req.params, 'params') : undefined) as Out<P>,
      principal: req.principal as Principal,
      req,
      reply,
    };
    const result = spec.handler(input);
    if (!endOfTurn || result === undefined || result === reply || isThenable(result)) return result;
    replyAtEndOfTurn(reply, result);
    return undefined; // a non-async handler that returns nothing leaves the reply to us
  }
}

const unauthenticated = () => new HgError('HG_UNAUTHENTICATED', 'authentication required');

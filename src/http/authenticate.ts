/**
 * Who is calling, and the request id every response carries. Both run inside route handlers and
 * the error and not-found handlers rather than in global onRequest hooks: any onRequest hook
 * puts every request through Fastify's hook runner, which costs more than a whole /v1/check
 * answer's own work (measured in docs/benchmarks.md).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../core/types.js';
import { authenticateToken } from '../app/directory.js';
import type { ConfigSource } from '../app/ports.js';

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** The principal whose bearer token the request presents, from the configuration in force. */
export function bearerPrincipal(config: ConfigSource, req: FastifyRequest): Principal | undefined {
  const m = BEARER.exec(req.headers.authorization ?? '');
  return m ? authenticateToken(config.current(), m[1]!) : undefined;
}

/** Set on the raw response, so it survives handlers that write the response themselves. */
export function tagWithRequestId(req: FastifyRequest, reply: FastifyReply): void {
  reply.raw.setHeader('x-request-id', req.id);
}

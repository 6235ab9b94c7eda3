/**
 * Who is calling. Route handlers (route.ts) and the not-found handler ask, rather than a global
 * onRequest hook: any onRequest hook puts every request through Fastify's hook runner, a cost
 * /v1/check notices (docs/benchmarks.md).
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../core/types.js';
import { authenticateToken } from '../app/directory.js';
import type { ConfigSource } from '../app/ports.js';

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** The principal whose bearer token the request presents, from the configuration in force. */
export function bearerPrincipal(config: ConfigSource, req: FastifyRequest): Principal | undefined {
  const m = BEARER.exec(req.headers.authorization ?? '');
  return m ? authenticateToken(config.current(), m[1]!) : undefined;
}

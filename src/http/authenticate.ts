/**
 * Who is calling. Route handlers (route.ts) and the not-found handler ask, rather than a global
 * onRequest hook: any onRequest hook puts every request through Fastify's hook runner, a cost
 * /v1/check notices (docs/benchmarks.md).
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../core/types.js';
import { authenticateToken } from '../app/directory.js';
import type { ConfigSource } from '../app/ports.js';
import { rateLimited, type AuthFailureLimiter } from './auth-failure-limiter.js';

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** The principal whose bearer token the request presents, from the configuration in force. */
export function bearerPrincipal(config: ConfigSource, req: FastifyRequest): Principal | undefined {
  const m = BEARER.exec(req.headers.authorization ?? '');
  return m ? authenticateToken(config.current(), m[1]!) : undefined;
}

/**
 * `server.authenticate`: at most once per request (the rate limiter's key and the route both
 * ask). An address out of failure budget gets HG_RATE_LIMITED before its token is looked at,
 * whatever the token; a presented Authorization header that does not authenticate is a failure.
 * No header at all is not (nothing was guessed; the general rate limit counts those per address).
 */
export function authenticator(config: ConfigSource, failures: AuthFailureLimiter, onRefused: () => void) {
  return (req: FastifyRequest): Principal | undefined => {
    if (req.principal !== null) return req.principal;
    if (req.authChecked) return undefined;
    // No failures anywhere: no lookup, not even of req.ip (which parses X-Forwarded-For).
    if (failures.size > 0) {
      const wait = failures.retryAfter(req.ip);
      if (wait > 0) {
        onRefused();
        throw rateLimited(wait);
      }
    }
    const principal = bearerPrincipal(config, req);
    if (principal) return (req.principal = principal);
    req.authChecked = true;
    if (req.headers.authorization !== undefined) failures.fail(req.ip);
    return undefined;
  };
}

/**
 * Who is calling. Route handlers (route.ts) and the not-found handler ask, rather than a global
 * onRequest hook: any onRequest hook puts every request through Fastify's hook runner, a cost
 * /v1/check notices (docs/benchmarks.md).
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../core/types.js';
import type { Authenticator, Credential } from '../app/ports.js';
import { rateLimited, type AuthFailureLimiter } from './auth-failure-limiter.js';

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** A principal, or a promise of one when the Authenticator answers asynchronously. */
export type Authenticated = Principal | undefined | Promise<Principal | undefined>;

export const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then === 'function';

/**
 * A bearer credential. A class with `sourceIp` on its prototype rather than an object literal
 * with a getter: V8 builds such a literal on a slow path, a cost /v1/check noticed. `sourceIp` is
 * read lazily: req.ip parses X-Forwarded-For, which the token lookup never needs.
 */
class RequestCredential implements Credential {
  constructor(
    readonly scheme: 'bearer' | 'cookie',
    readonly token: string,
    private readonly req: FastifyRequest,
  ) {}
  get sourceIp(): string {
    return this.req.ip;
  }
}

/** The request's bearer token, else its session cookie (a request with both is judged by the token). */
function credentialOf(req: FastifyRequest, cookieOf: (req: FastifyRequest) => string | undefined): Credential | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const m = BEARER.exec(authorization);
    return m ? new RequestCredential('bearer', m[1]!, req) : undefined;
  }
  if (req.headers.cookie === undefined) return undefined;
  const cookie = cookieOf(req);
  return cookie ? new RequestCredential('cookie', cookie, req) : undefined;
}

/**
 * `server.authenticate`: at most once per request (the rate limiter's key and the route both
 * ask). An address out of failure budget gets HG_RATE_LIMITED before its token is looked at,
 * whatever the token; a presented Authorization header that does not authenticate is a failure.
 * No header at all is not (nothing was guessed; the general rate limit counts those per address).
 * Synchronous whenever the Authenticator is (API tokens): a promise only when it returns one.
 */
export function authenticator(auth: Authenticator, failures: AuthFailureLimiter, onRefused: () => void, cookieOf: (req: FastifyRequest) => string | undefined) {
  const settle = (req: FastifyRequest, principal: Principal | undefined, credential: Credential | undefined): Principal | undefined => {
    if (principal) return (req.principal = principal);
    req.authChecked = true;
    // A stale cookie is no guess; a presented token that does not authenticate is.
    if (req.headers.authorization !== undefined || (credential?.scheme === 'cookie' && !credential.token.startsWith('hgs_'))) failures.fail(req.ip);
    return undefined;
  };
  return (req: FastifyRequest): Authenticated => {
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
    const credential = credentialOf(req, cookieOf);
    const found = credential ? auth.authenticate(credential) : undefined;
    return isThenable(found) ? found.then((p) => settle(req, p, credential)) : settle(req, found, credential);
  };
}

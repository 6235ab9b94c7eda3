/**
 * GET /v1/check answered beside Fastify rather than through it, for the one call a gateway makes
 * on every request it lets through.
 *
 * Why: the route's own work (a token lookup, an index lookup, a small JSON answer) is a fraction
 * of what Fastify spends around it: routing, the hook runner, the request and reply objects, the
 * send pipeline (docs/benchmarks.md measures both). The fast path takes a request only when its
 * answer is certain to be the route's 200: a bearer token that authenticates synchronously to a
 * principal with the checker role and the `check` scope, exactly the two query parameters the
 * route's schema allows, no rate limit that would count the call, no request log line to write
 * (the log level is above `info`), and the server not closing. Anything else (a bad token, a
 * missing role, a malformed query, a session cookie, an address out of its failure budget) goes
 * to Fastify untouched, so every refusal, error body and log line has one implementation.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { parse as parseQuery } from 'fast-querystring';
import type { Hourglass } from '../app/hourglass.js';
import type { CheckResult } from '../app/check-access.js';
import type { Authenticator, Credential } from '../app/ports.js';
import type { Principal } from '../core/types.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import { isThenable } from './authenticate.js';
import { endAtEndOfTurn } from './end-of-turn-replies.js';
import { requestIdOf } from './request-log.js';
import { checkAnswerJson } from './serialize.js';

const PREFIX = '/v1/check?';
const BEARER = /^Bearer ([\x21-\x7e]+)$/;
/** checkQuery's bounds (schemas.ts): principal and entitlement, 1 to 200 characters each. */
const MAX_PARAM = 200;
const JSON_TYPE = 'application/json; charset=utf-8';
/** The common answer, as JSON.stringify(checkAnswerJson(DENIED)) writes it, made once. */
const DENIED_JSON = '{"allowed":false}';

export interface CheckFastPathOptions {
  app: Hourglass;
  authenticator: Authenticator;
  failures: AuthFailureLimiter;
  /** Whether a request line would be written at info (then Fastify serves it, with its line). */
  logsRequests: () => boolean;
  /** Per-minute budgets of server.rateLimit: a call that one of them counts goes to Fastify. */
  rateLimits: { perMinute: number; checkPerMinute: number };
  trustedProxies: string[];
  /** True once the server is closing (Fastify answers 503 then). */
  closing: () => boolean;
}

/** A bearer credential of a raw request; `sourceIp` as Fastify's req.ip computes it, on demand. */
class RawCredential implements Credential {
  readonly scheme = 'bearer';
  constructor(
    readonly token: string,
    private readonly req: IncomingMessage,
    private readonly trust: ((addr: string, i: number) => boolean) | undefined,
  ) {}
  get sourceIp(): string {
    if (!this.trust) return this.req.socket.remoteAddress ?? '';
    const all = proxyAddr.all(this.req, this.trust);
    return all[all.length - 1] ?? '';
  }
}

/**
 * Wraps Fastify's request listener: a request the fast path can answer is answered here, every
 * other one goes to `fastify` untouched (a GET's body is never read here).
 */
export function checkFastPath(opts: CheckFastPathOptions, fastify: RequestListener): RequestListener {
  const { app, authenticator, failures } = opts;
  const trust = opts.trustedProxies.length ? proxyAddr.compile(opts.trustedProxies) : undefined;
  const metrics = app.deps.metrics;

  /** The two parameters when the query is exactly what checkQuery accepts, else undefined. */
  function queryOf(url: string): Query | undefined {
    const q = parseQuery(url.slice(PREFIX.length)) as Record<string, unknown>;
    let n = 0;
    for (const _ in q) n++;
    const { principal, entitlement } = q;
    if (n !== 2 || typeof principal !== 'string' || typeof entitlement !== 'string') return undefined;
    if (principal.length < 1 || principal.length > MAX_PARAM || entitlement.length < 1 || entitlement.length > MAX_PARAM) return undefined;
    return { principal, entitlement };
  }

  /** Whether the route itself would answer this caller 200 (role, scope, rate limit). */
  function serves(p: Principal | undefined): p is Principal {
    if (!p) return false;
    const checker = p.roles.includes('checker');
    if (!checker && !p.roles.includes('admin')) return false;
    if (p.auth?.scopes && !p.auth.scopes.includes('check')) return false;
    // The rate limiter keys a checker's calls here to checkPerMinute, anyone else's to perMinute.
    return (checker ? opts.rateLimits.checkPerMinute : opts.rateLimits.perMinute) === 0;
  }

  function answer(req: IncomingMessage, res: ServerResponse, caller: Principal, q: Query, started: number) {
    const send = (r: CheckResult) => {
      metrics?.checkLatency((performance.now() - started) / 1000, r.allowed);
      const body = !r.allowed && r.reason === undefined ? DENIED_JSON : JSON.stringify(checkAnswerJson(r));
      endAtEndOfTurn(res, 200, ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body)), 'x-request-id', requestIdOf(req)], body);
    };
    let r: CheckResult | Promise<CheckResult>;
    try {
      r = app.check(caller, q.principal, q.entitlement);
    } catch {
      return fastify(req, res); // the route then answers the same refusal, in its own words
    }
    if (!isThenable(r)) return send(r);
    // The store answers when the index is not loaded (tests): its failure is Fastify's 5xx to write.
    r.then(send, () => fastify(req, res));
  }

  return (req, res) => {
    const url = req.url;
    const authorization = req.headers.authorization;
    if (
      req.method !== 'GET' ||
      url === undefined ||
      !url.startsWith(PREFIX) ||
      authorization === undefined ||
      failures.size > 0 ||
      opts.closing() ||
      opts.logsRequests()
    )
      return fastify(req, res);
    const m = BEARER.exec(authorization);
    const q = m ? queryOf(url) : undefined;
    if (!m || !q) return fastify(req, res);
    const started = performance.now();
    const found = authenticator.authenticate(new RawCredential(m[1]!, req, trust));
    const go = (p: Principal | undefined) => (serves(p) ? answer(req, res, p, q, started) : fastify(req, res));
    // A token only the store knows is looked up asynchronously: the request waits here, and goes
    // to Fastify afterwards if it does not qualify (which then looks again, and counts a failure).
    if (isThenable(found)) found.then(go, () => fastify(req, res));
    else go(found);
  };
}

interface Query {
  principal: string;
  entitlement: string;
}

/**
 * Request ids and request log lines, done by Hourglass rather than by Fastify's logger.
 *
 * Fastify, once given a logger, makes a child logger and two response listeners for every
 * request whatever the level; on /v1/check that cost more than the answer itself (see
 * docs/benchmarks.md). Here a request costs one header and a level check unless its lines are
 * actually written: `begin` is called first thing by every route handler and by the error and
 * not-found handlers, so every response that Hourglass sends goes through it exactly once.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { REDACTED } from '../core/redact.js';

declare module 'fastify' {
  interface FastifyReply {
    /** Set once `RequestLog.begin` has run for this reply. */
    logBegun: boolean;
  }
}

/** An incoming `x-request-id` is kept only when it is a short, safe token; otherwise a UUID is made. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:=-]{0,99}$/;
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUuid();
}

// A random (version 4) UUID, as crypto.randomUUID makes, but as one flat string: randomUUID joins
// 20 pieces, and Node flattens that rope again when it validates the header value, which cost
// /v1/check about 2 % of its throughput. Random bytes come from the CSPRNG, 128 ids' worth at a
// time (as randomUUID does); the hex digits are written into a buffer and decoded once.
const UUIDS_PER_FILL = 128;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const uuidText = Buffer.alloc(36);
let entropy = Buffer.alloc(0);
let used = UUIDS_PER_FILL;

export function randomUuid(): string {
  if (used === UUIDS_PER_FILL) {
    entropy = randomFillSync(Buffer.allocUnsafe(16 * UUIDS_PER_FILL));
    used = 0;
  }
  const at = 16 * used++;
  let out = 0;
  for (let i = 0; i < 16; i++) {
    let byte = entropy[at + i]!;
    if (i === 6)
      byte = (byte & 0x0f) | 0x40; // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // RFC 9562 variant
    if (i === 4 || i === 6 || i === 8 || i === 10) uuidText[out++] = 0x2d; // '-'
    uuidText[out++] = HEX_DIGITS[byte >> 4]!;
    uuidText[out++] = HEX_DIGITS[byte & 0x0f]!;
  }
  return uuidText.toString('latin1');
}

/** Query parameters whose values never reach a log line (tokens belong in headers, but clients err). */
const SECRET_PARAM = /token|secret|pass(word|wd)?|key|sig(nature)?|auth|credential|code/i;
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url.slice(0, 2000);
  const params = new URLSearchParams(url.slice(q + 1));
  const kept = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${SECRET_PARAM.test(k) ? REDACTED : encodeURIComponent(v)}`);
  return `${url.slice(0, q)}?${kept.join('&')}`.slice(0, 2000);
}

/** Probes log at debug; every other request gets one `request completed` line at info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

export class RequestLog {
  constructor(private readonly root: Logger | undefined) {}

  /** Whether a request that is not a probe gets log lines (the level lets info through). */
  writesLines(): boolean {
    return this.root?.isLevelEnabled('info') ?? false;
  }

  /**
   * Tags the response with the request id and, when the level lets this request's lines through,
   * logs `incoming request` (debug) now and `request completed` (info; debug for probes) when
   * the response is done. Later calls for the same reply do nothing.
   */
  begin(req: FastifyRequest, reply: FastifyReply): void {
    if (reply.logBegun) return;
    reply.logBegun = true;
    // Through Fastify, not reply.raw.setHeader: a header set on the raw response sends Node's
    // writeHead down its slow path (merging two header sets), measurably slower on every request.
    reply.header('x-request-id', req.id);
    const root = this.root;
    // Nothing below info is logged per request unless debug is on (probes log at debug only).
    if (!root?.isLevelEnabled('info')) return;
    const probe = PROBES.has(req.routeOptions.url ?? '');
    if (probe && !root.isLevelEnabled('debug')) return;
    const log = this.for(req)!;
    const started = performance.now();
    log.debug({ req: describe(req) }, 'incoming request');
    let logged = false;
    const completed = (finished: boolean) => {
      if (logged) return;
      logged = true;
      const line = { req: describe(req), res: { statusCode: reply.statusCode }, responseTime: performance.now() - started };
      if (!finished) log.info(line, 'request aborted before the response was sent');
      else if (probe) log.debug(line, 'request completed');
      else log.info(line, 'request completed');
    };
    reply.raw.once('finish', () => completed(true));
    reply.raw.once('close', () => completed(false));
  }

  /** A logger whose lines carry the request's id (`reqId`), for errors met while serving it. */
  for(req: FastifyRequest): Logger | undefined {
    return this.root?.child({ reqId: req.id });
  }
}

function describe(req: FastifyRequest) {
  return { method: req.method, url: loggableUrl(req.url), route: req.routeOptions.url, remoteAddress: req.ip, principal: req.principal?.id };
}

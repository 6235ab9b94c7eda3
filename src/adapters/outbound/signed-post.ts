/**
 * Outbound HTTP for webhooks, checkpoint shipping and chat webhooks: HMAC-signed (`signedPost`) or
 * not (`guardedPost`, for receivers that authenticate by their URL), never to private, loopback,
 * link-local or other internal addresses unless the host is listed in `server.allowedHosts`.
 * The address is checked when the connection is made (our own `lookup`), so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through. Redirects are not followed.
 * Each request gets its own connection (no keep-alive pool), so a socket opened under an older
 * `allowedHosts` is never reused, and one deadline bounds the whole exchange.
 * Event webhooks and checkpoint shipping look at the status only; the webhook target kind also
 * reads a bounded response body (`readBody`).
 */
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import ipaddr from 'ipaddr.js';

/** A JSON POST under the guard, unsigned: for receivers with their own authentication (a Teams workflow's `sig`). */
export interface GuardedPost {
  url: string;
  /** Default POST; GET and DELETE send no body (give ''). */
  method?: 'POST' | 'GET' | 'PUT' | 'PATCH' | 'DELETE';
  body: string;
  /** Extra headers; they cannot replace the content headers. */
  headers?: Record<string, string>;
  /** Deadline for the whole exchange (connect, send, status line), in ms. */
  timeoutMs: number;
  /** Host names or CIDR blocks allowed even though they are internal. */
  allowedHosts: readonly string[];
  /** Read the response body, up to `maxBytes` (more fails the call), within the same deadline. */
  readBody?: { maxBytes: number };
}

export interface SignedPost extends GuardedPost {
  secret: string;
  /** Seconds since the epoch; part of what is signed, so receivers can refuse old replays. */
  timestamp: number;
  /** Extra headers; they cannot replace the signature, timestamp or content headers. */
  headers?: Record<string, string>;
}

export interface PostResult {
  status: number;
  durationMs: number;
  /** The response body, when `readBody` asked for it. */
  body?: Buffer;
}

export class OutboundRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

/** `t=TIMESTAMP,v1=HEX(HMAC-SHA256(secret, "TIMESTAMP.BODY"))` */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * True for addresses outside the public unicast space: private, loopback, link-local, CGNAT,
 * multicast, reserved, IPv4-mapped and IPv4-compatible IPv6 forms of those, NAT64, 6to4, Teredo.
 * Anything that does not parse counts as internal.
 */
export function isInternalAddress(ip: string): boolean {
  if (!ipaddr.isValid(ip)) return true;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) addr = v6.toIPv4Address();
    // ::/96, the deprecated IPv4-compatible form (::127.0.0.1): ipaddr.js calls it unicast.
    else if (v6.parts.slice(0, 6).every((p) => p === 0)) return true;
  }
  return addr.range() !== 'unicast';
}

function allowedByList(host: string, ip: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    if (entry.includes('/')) {
      try {
        const [range, bits] = ipaddr.parseCIDR(entry);
        const addr = ipaddr.parse(ip);
        return addr.kind() === range.kind() && addr.match([range, bits] as [typeof addr, number]);
      } catch {
        return false;
      }
    }
    return entry.toLowerCase() === host.toLowerCase() || entry === ip;
  });
}

function guardedLookup(host: string, allowed: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      const refused = list.find((a) => isInternalAddress(a.address) && !allowedByList(host, a.address, allowed));
      if (refused || list.length === 0) {
        const e = new OutboundRefused(`${host} resolves to an internal address; list it in server.allowedHosts to allow it`);
        return callback(e as NodeJS.ErrnoException, '', 0);
      }
      const first = list[0]!;
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      return callback(null, first.address, first.family);
    });
  };
}

/** Throws `OutboundRefused` before any connection for a forbidden destination; other errors are network errors. */
export async function signedPost(req: SignedPost): Promise<PostResult> {
  const { secret, timestamp, ...rest } = req;
  return guardedPost({
    ...rest,
    headers: {
      'user-agent': 'Hourglass-Webhook/1',
      ...req.headers,
      'hourglass-timestamp': String(timestamp),
      'hourglass-signature': signatureHeader(secret, timestamp, req.body),
    },
  });
}

/** signedPost without the signature (same guard, deadline and errors). */
export async function guardedPost(req: GuardedPost): Promise<PostResult> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new OutboundRefused('not a valid URL');
  }
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!client) throw new OutboundRefused(`unsupported scheme ${url.protocol}`);
  if (url.username || url.password) throw new OutboundRefused('URLs with credentials are not sent');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal IP never goes through lookup: check it here.
  if (ipaddr.isValid(host) && isInternalAddress(host) && !allowedByList(host, host, req.allowedHosts)) {
    throw new OutboundRefused(`${host} is an internal address; list it in server.allowedHosts to allow it`);
  }
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<PostResult>((resolve, reject) => {
    let settled = false;
    const request = client.request(
      url,
      {
        method: req.method ?? 'POST',
        agent: false,
        lookup: guardedLookup(host, req.allowedHosts),
        timeout: req.timeoutMs,
        headers: {
          'user-agent': 'Hourglass/1',
          ...req.headers,
          ...(req.method === 'GET' || req.method === 'DELETE' ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body) }),
        },
      },
      (res) => {
        res.on('close', () => clearTimeout(deadline));
        if (!req.readBody) {
          // The status is the answer; the body is drained (and bounded by the deadline) but not kept.
          if (!settled) {
            settled = true;
            resolve({ status: res.statusCode ?? 0, durationMs: elapsed() });
          }
          res.on('error', () => {});
          res.resume();
          return;
        }
        const { maxBytes } = req.readBody;
        const tooLarge = () => new Error(`the response is larger than ${maxBytes} bytes`);
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
          fail(tooLarge());
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            fail(tooLarge());
            res.destroy();
          } else chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(deadline);
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, durationMs: elapsed(), body: Buffer.concat(chunks) });
        });
        res.on('close', () => fail(new Error('the connection closed before the response ended')));
      },
    );
    const fail = (err: Error) => {
      clearTimeout(deadline);
      if (settled) return;
      settled = true;
      reject(err);
    };
    // `timeout` above is per socket inactivity; this bounds the whole exchange (a receiver that
    // trickles bytes cannot hold a delivery slot for ever). Failing first: once the response has
    // begun, destroying the request is reported on the response, if at all.
    const giveUp = () => {
      const err = new Error(`no answer within ${req.timeoutMs} ms`);
      fail(err);
      request.destroy(err);
    };
    const deadline = setTimeout(giveUp, req.timeoutMs);
    deadline.unref?.();
    request.on('timeout', giveUp);
    request.on('error', fail);
    request.end(req.body);
  });
}

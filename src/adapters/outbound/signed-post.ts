/**
 * Outbound HTTP for webhooks and checkpoint shipping: HMAC-signed, never to private, loopback,
 * link-local or other internal addresses unless the host is listed in `server.allowedHosts`.
 * The address is checked when the connection is made (our own `lookup`), so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through. Redirects are not followed.
 */
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface SignedPost {
  url: string;
  body: string;
  secret: string;
  /** Seconds since the epoch; part of what is signed, so receivers can refuse old replays. */
  timestamp: number;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Host names or CIDR blocks allowed even though they are internal. */
  allowedHosts: readonly string[];
}

export interface PostResult {
  status: number;
  durationMs: number;
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

const PUBLIC_RANGES = new Set(['unicast']);

/** True for addresses outside the public unicast space (private, loopback, link-local, CGNAT, ...). */
export function isInternalAddress(ip: string): boolean {
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  return !PUBLIC_RANGES.has(addr.range());
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

export async function signedPost(req: SignedPost): Promise<PostResult> {
  const url = new URL(req.url);
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!client) throw new OutboundRefused(`unsupported scheme ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal IP never goes through lookup: check it here.
  if (ipaddr.isValid(host) && isInternalAddress(host) && !allowedByList(host, host, req.allowedHosts)) {
    throw new OutboundRefused(`${host} is an internal address; list it in server.allowedHosts to allow it`);
  }
  const started = Date.now();
  return new Promise<PostResult>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup: guardedLookup(host, req.allowedHosts),
        timeout: req.timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(req.body),
          'user-agent': 'Hourglass-Webhook/1',
          'hourglass-timestamp': String(req.timestamp),
          'hourglass-signature': signatureHeader(req.secret, req.timestamp, req.body),
          ...req.headers,
        },
      },
      (res) => {
        res.resume(); // the body is not needed; drain it so the socket is freed
        res.on('end', () => resolve({ status: res.statusCode ?? 0, durationMs: Date.now() - started }));
        res.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(req.body);
  });
}

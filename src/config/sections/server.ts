/** The `server` section: where to listen, the store, limits against slow and hostile clients. */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { HgError } from '../../core/errors.js';
import type { ServerSettings } from '../types.js';
import { cidrSchema, DEFAULTS, durationSchema, HOUR, MINUTE, nonEmptyString, SECOND, strictObject } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

const MAX_BODY_LIMIT = 64 * 1024 * 1024;

/** "host:port" or "[ipv6]:port" into its parts; a string is a problem. Port 0 picks a free port. */
export function parseListen(text: string): { host: string; port: number } | string {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text.trim());
  const other = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  const m = v6 ?? other;
  const help = 'use host:port, e.g. 127.0.0.1:8420 or [::1]:8420';
  if (!m) return `${shown(text)} is not a listen address: ${help}`;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range (0-65535)`;
  if (v6 && !ipaddr.IPv6.isValid(host)) return `${shown(host)} is not an IPv6 address: ${help}`;
  if (!v6 && /^[\d.]+$/.test(host) && !ipaddr.IPv4.isValidFourPartDecimal(host)) {
    return `${shown(host)} is not an IPv4 address: ${help}`;
  }
  return { host, port };
}

/** Like parseListen, but throws HG_CONFIG_INVALID (for HOURGLASS_LISTEN in main.ts). */
export function parseListenOrThrow(text: string, what = 'HOURGLASS_LISTEN'): { host: string; port: number } {
  const r = parseListen(text);
  if (typeof r === 'string') {
    const message = `${what}: ${r.replace(/[\u0001\u0002]/g, '')}`;
    throw new HgError('HG_CONFIG_INVALID', message, { details: { problems: [{ path: what, message }] } });
  }
  return r;
}

/** 65536, "65536", "64kb", "1mb" (k = 1024) into bytes; a string is a problem. */
export function parseByteSize(value: number | string): number | string {
  const help = 'use a number of bytes or a size such as 64kb or 1mb';
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else {
    const m = /^\s*(\d+)\s*(b|kb|k|mb|m)?\s*$/i.exec(value);
    if (!m) return `${shown(value)} is not a size: ${help}`;
    const unit = (m[2] ?? 'b').toLowerCase();
    bytes = Number(m[1]) * (unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 1) return `must be a whole number of bytes of at least 1; ${help}`;
  if (bytes > MAX_BODY_LIMIT) return 'must be at most 64mb';
  return bytes;
}

const listenSchema = z.string().transform((text, ctx) => {
  const r = parseListen(text);
  if (typeof r === 'string') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: r });
    return z.NEVER;
  }
  return r;
});

/** Never echoes the value: a PostgreSQL URL carries a password. */
const storeSchema = z.string().superRefine((text, ctx) => {
  const t = text.trim();
  if (/^sqlite:./.test(t)) return;
  if (/^postgres(ql)?:\/\//.test(t)) {
    try {
      const url = new URL(t);
      if (url.hostname) return;
    } catch {
      /* fall through */
    }
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not a valid postgres:// URL (value not shown)' });
    return;
  }
  ctx.addIssue({
    code: z.ZodIssueCode.custom,
    message: 'must be sqlite:PATH or postgres://user:password@host:port/database (value not shown)',
  });
});

const bodyLimitSchema = z.union([z.number(), z.string()], { invalid_type_error: 'must be a number of bytes or a size such as 64kb' }).transform((v, ctx) => {
  const r = parseByteSize(v);
  if (typeof r === 'string') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: r });
    return z.NEVER;
  }
  return r;
});

/** A duration that may be given in milliseconds (`250ms`) as well as `1s`, between `min` and `max` ms. */
const millisSchema = (min: number, max: number, range: string) =>
  z.string({ invalid_type_error: 'must be a duration string such as 250ms or 1s' }).transform((text, ctx) => {
    const ms = /^\s*(\d+)\s*ms\s*$/.exec(text);
    let value: number;
    if (ms) {
      value = Number(ms[1]);
    } else {
      try {
        value = parseDuration(text);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${shown(text)} is not a duration: use e.g. 250ms or 1s` });
        return z.NEVER;
      }
    }
    if (value < min || value > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between ${range}` });
      return z.NEVER;
    }
    return value;
  });

/** A duration between `min` and `max` ms (whole seconds, as parseDuration gives). */
const boundedDuration = (min: number, max: number, range: string) =>
  durationSchema.superRefine((ms, ctx) => {
    if (ms < min || ms > max) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between ${range}` });
  });

const timeoutsShape = {
  request: boundedDuration(SECOND, HOUR, '1s and 1h').default(DEFAULTS.requestTimeout),
  headers: boundedDuration(SECOND, 10 * MINUTE, '1s and 10m').default(DEFAULTS.headersTimeout),
  keepAlive: boundedDuration(SECOND, 10 * MINUTE, '1s and 10m').default(DEFAULTS.keepAliveTimeout),
};

const count = (max: number, fallback: number) => z.number().int().min(0).max(max).default(fallback);

const publicUrlSchema = z
  .string()
  .url('must be a URL such as https://hourglass.example.com')
  .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
  .refine((u) => !new URL(u).search && !new URL(u).hash, 'must not have a query or fragment')
  .transform((u) => u.replace(/\/+$/, ''));

export const serverShape = {
  listen: listenSchema.default(DEFAULTS.listen),
  publicUrl: publicUrlSchema.optional(),
  store: storeSchema.default(DEFAULTS.store),
  bodyLimit: bodyLimitSchema.default(DEFAULTS.bodyLimit),
  rateLimit: strictObject({
    perMinute: z.number().int().min(0).default(DEFAULTS.rateLimitPerMinute),
    checkPerMinute: z.number().int().min(0).default(0),
  }).default({}),
  trustedProxies: z.array(cidrSchema).default([]),
  schedulerInterval: millisSchema(10, 1000, '10ms and 1s').default(`${DEFAULTS.schedulerIntervalMs}ms`),
  checkIndex: strictObject({
    pollInterval: millisSchema(50, 1000, '50ms and 1s').default('1s'),
    staleAfter: millisSchema(500, 60_000, '500ms and 60s').default('2s'),
  }).default({}),
  allowedHosts: z.array(nonEmptyString).default([]),
  timeouts: strictObject(timeoutsShape).default({}),
  maxRequestsPerSocket: count(1_000_000, 0),
  maxConnections: count(1_000_000, DEFAULTS.maxConnections),
  maxConnectionsPerAddress: count(1_000_000, DEFAULTS.maxConnectionsPerAddress),
  authFailures: strictObject({
    burst: count(100_000, DEFAULTS.authFailureBurst),
    perMinute: count(100_000, DEFAULTS.authFailurePerMinute),
  }).default({}),
};

export function parseServer(raw: unknown, out: RawProblem[]): ServerSettings | undefined {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['server'], message: 'must be a mapping' });
    return undefined;
  }
  const { values: v, ok } = parseFields(serverShape, input, ['server'], out);
  if (!ok) return undefined;
  const t = v.timeouts!;
  const index = v.checkIndex!;
  if (index.staleAfter <= index.pollInterval) {
    out.push({ path: ['server', 'checkIndex', 'staleAfter'], message: 'must be longer than checkIndex.pollInterval' });
    return undefined;
  }
  if (t.headers > t.request) {
    // Node refuses it too: the headers are part of the request.
    out.push({ path: ['server', 'timeouts', 'headers'], message: 'must not be longer than timeouts.request' });
    return undefined;
  }
  return {
    listen: v.listen!,
    ...(v.publicUrl ? { publicUrl: v.publicUrl } : {}),
    store: v.store!.trim(),
    bodyLimit: v.bodyLimit!,
    rateLimitPerMinute: v.rateLimit!.perMinute,
    checkRateLimitPerMinute: v.rateLimit!.checkPerMinute,
    trustedProxies: v.trustedProxies!.map((c) => c.trim()),
    schedulerIntervalMs: v.schedulerInterval!,
    checkIndex: { pollIntervalMs: index.pollInterval, staleAfterMs: index.staleAfter },
    allowedHosts: v.allowedHosts!,
    timeouts: { requestMs: t.request, headersMs: t.headers, keepAliveMs: t.keepAlive },
    maxRequestsPerSocket: v.maxRequestsPerSocket!,
    maxConnections: v.maxConnections!,
    maxConnectionsPerAddress: v.maxConnectionsPerAddress!,
    authFailures: v.authFailures!,
  };
}

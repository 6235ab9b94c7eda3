/**
 * The small schemas every section is built from: names, durations, networks, hours, and the
 * strict object that reports unknown keys. Target kinds build their settings from these too.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import type { Role, Weekday } from '../core/types.js';
import { isPlainObject, shown, unknownKeys, type RawProblem } from './problems.js';

export const PRINCIPAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const TARGET_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ENTITLEMENT_NAME_PATTERN = TARGET_NAME_PATTERN;
export const ENTITLEMENT_REF_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}\/[a-z0-9][a-z0-9_-]{0,62}$/;
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ROLES = ['admin', 'auditor', 'checker', 'metrics', 'agent'] as const satisfies readonly Role[];
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const satisfies readonly Weekday[];

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export const DEFAULTS = {
  listen: '127.0.0.1:8420',
  store: 'sqlite:.hourglass/hourglass.db',
  bodyLimit: 64 * 1024,
  rateLimitPerMinute: 600,
  /** Whole request (line, headers and body) must arrive within this. */
  requestTimeout: '30s',
  headersTimeout: '10s',
  /** Above the 60 s idle timeout of common proxies and load balancers, so they close first (Fastify's default). */
  keepAliveTimeout: '72s',
  maxConnections: 10_000,
  /** Well above a busy client's or the benchmark's 50 keep-alive connections. */
  maxConnectionsPerAddress: 256,
  authFailureBurst: 20,
  authFailurePerMinute: 30,
  schedulerIntervalMs: 250,
  maxDuration: HOUR,
  minDuration: MINUTE,
  /** minDuration when maxDuration is below one minute. */
  minDurationShort: SECOND,
  defaultDurationCap: HOUR,
  pendingTimeout: '24h',
  reviewWithin: '24h',
  approvalsRequired: 1,
  timezone: 'UTC',
} as const;

/** A zod object that reports unknown keys (with a did-you-mean) while still checking the known ones. */
export function strictObject<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  return z.preprocess((value, ctx) => {
    if (isPlainObject(value)) {
      const found: RawProblem[] = [];
      unknownKeys(value, known, [], found);
      for (const p of found) ctx.addIssue({ code: z.ZodIssueCode.custom, path: p.path, message: p.message });
    }
    return value;
  }, z.object(shape).strip());
}

export const nonEmptyString = z.string().trim().min(1);

/** A short name used in URLs and audit events: identity providers, SCIM tokens. */
export const shortName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be 1-40 characters: lower-case letters, digits and - (not first)');

/**
 * An identity provider's URL: https, or http on a loopback address only (a provider on this
 * machine, as in the tests and the demo).
 */
export const httpsOrLoopbackUrl = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${shown(text)} is not a URL` });
    return;
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an https:// URL (http:// only for a loopback address)' });
  }
});

const durationHelp = 'use a duration such as 90s, 15m, 1h30m, 2d or PT1H';

/** A duration string in milliseconds (bare numbers are refused: they have no unit). */
export const durationSchema = z
  .string({ invalid_type_error: `must be a duration string (${durationHelp}); a bare number has no unit` })
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${shown(text)} is not a duration: ${durationHelp}` });
      return z.NEVER;
    }
  });

export const cidrSchema = z.string().superRefine((text, ctx) => {
  try {
    ipaddr.parseCIDR(text.trim());
  } catch {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${shown(text)} is not a CIDR block such as 10.0.0.0/8, 192.0.2.7/32 or fd00::/8`,
    });
  }
});

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.trim().length > 0;
  } catch {
    return false;
  }
}

const HOURS = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/;

/** "HH:MM-HH:MM" into minutes after local midnight; 24:00 is allowed as the end. */
export function parseHours(text: string): { from: number; to: number } | string {
  const m = HOURS.exec(text);
  if (!m) return `${shown(text)} is not an hours range: use "HH:MM-HH:MM", e.g. "08:00-20:00"`;
  const [fh, fm, th, tm] = m.slice(1).map(Number) as [number, number, number, number];
  if (fh > 23 || fm > 59) return `${shown(text)}: the start must be between 00:00 and 23:59`;
  if (!((th <= 23 && tm <= 59) || (th === 24 && tm === 0))) {
    return `${shown(text)}: the end must be between 00:00 and 24:00`;
  }
  const from = fh * 60 + fm;
  const to = th * 60 + tm;
  if (from === to || (from === 0 && to === 0)) {
    return `${shown(text)} is an empty window; use "00:00-24:00" for the whole day`;
  }
  return { from, to };
}

/**
 * Maps keyed by names that come from outside (target and entitlement names, looked up with what a
 * request names) have no prototype: `targets['constructor']` must be undefined, not Object's.
 */
export function nameMap<V>(entries: Iterable<[string, V]> = []): Record<string, V> {
  const map = Object.create(null) as Record<string, V>;
  for (const [k, v] of entries) map[k] = v;
  return map;
}

export const httpUrlSchema = z.string().superRefine((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an http:// or https:// URL' });
  } else if (url.username || url.password) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not carry credentials; use secret for signing' });
  }
});

export const secretSchema = z.string().min(16, 'must be at least 16 characters (use a random value from an environment variable)');
export const eventPatternSchema = z.string().regex(/^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/, 'must be an event type, a prefix ending in .* or *');

/** 0 (off) or a duration. */
export const optionalDuration = z.union([z.literal(0), durationSchema]).transform((v) => (v === 0 ? 0 : v));

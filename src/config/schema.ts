/**
 * The configuration file's schema: what each key may hold, its default, and the checks that
 * span several keys. Everything here is pure: it takes the plain value the YAML parser produced
 * (after `${ENV}` interpolation) and returns either a complete HourglassConfig or every problem.
 *
 * Defaults fail closed: no principal, target or policy exists unless configured, approvals are
 * required unless a policy says `required: 0`, extensions are off, reasons are required.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../core/audit-chain.js';
import { targetKindSchemas } from './target-kinds.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { HgError } from '../core/errors.js';
import type { Policy, Principal, Role, SubjectSet, TargetConfig, TimeWindow, Weekday } from '../core/types.js';
import type {
  AuditSettings,
  CheckpointSettings,
  ConfiguredPrincipal,
  HourglassConfig,
  ReminderSettings,
  ServerSettings,
  WebhookEndpoint,
} from './types.js';

// ---- names and constants ------------------------------------------------------------------------

/** Target types this build knows. Connector issues add their type here (postgres, mariadb, redis, ...). */
export const KNOWN_TARGET_TYPES: Set<string> = new Set(['hourglass', 'postgres', 'mariadb', 'redis']);

export const PRINCIPAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const TARGET_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ENTITLEMENT_NAME_PATTERN = TARGET_NAME_PATTERN;
export const ENTITLEMENT_REF_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}\/[a-z0-9][a-z0-9_-]{0,62}$/;
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ROLES = ['admin', 'auditor', 'checker', 'metrics'] as const satisfies readonly Role[];
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const satisfies readonly Weekday[];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

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

const MAX_BODY_LIMIT = 64 * 1024 * 1024;

// ---- problems -----------------------------------------------------------------------------------

export type ConfigPath = Array<string | number>;

/** A problem before it is placed in the file (line) and formatted. */
export interface RawProblem {
  path: ConfigPath;
  message: string;
}

/**
 * Marks a value echoed in a message. The loader shows it in quotes, or hides it when the value
 * (or a value near it) came from an environment variable, which may be a secret.
 */
export const ECHO_START = '\u0001';
export const ECHO_END = '\u0002';
export function shown(value: unknown): string {
  return `${ECHO_START}${JSON.stringify(value)}${ECHO_END}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  null: 'empty (null)',
  float: 'a fraction',
};
const typeName = (t: string): string => TYPE_NAMES[t] ?? t;

/** zod messages that never echo the offending value (it may be an interpolated secret). */
export const configErrorMap: z.ZodErrorMap = (issue, ctx) => {
  // A message the schema itself gives (e.g. invalid_type_error) wins over these generic ones.
  if (ctx.defaultError !== z.defaultErrorMap(issue, { data: ctx.data, defaultError: '' }).message) {
    return { message: ctx.defaultError };
  }
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.received === 'undefined') return { message: 'is required' };
      if (issue.expected === 'integer') return { message: 'must be a whole number' };
      return { message: `must be ${typeName(issue.expected)}, not ${typeName(issue.received)}` };
    case z.ZodIssueCode.invalid_enum_value:
      return { message: `must be one of: ${issue.options.map(String).join(', ')}` };
    case z.ZodIssueCode.too_small:
      if (issue.type === 'array') return { message: `must list at least ${issue.minimum}` };
      if (issue.type === 'string') return { message: 'must not be empty' };
      return { message: `must be at least ${issue.minimum}` };
    case z.ZodIssueCode.too_big:
      if (issue.type === 'array') return { message: `must list at most ${issue.maximum}` };
      if (issue.type === 'string') return { message: `must be at most ${issue.maximum} characters` };
      return { message: `must be at most ${issue.maximum}` };
    case z.ZodIssueCode.unrecognized_keys:
      return { message: `unknown key(s): ${issue.keys.join(', ')}` };
    default:
      return { message: ctx.defaultError };
  }
};

function issuesToProblems(issues: z.ZodIssue[], out: RawProblem[]): void {
  for (const issue of issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: `unknown key ${shown(key)}` });
    } else {
      out.push({ path: issue.path, message: issue.message });
    }
  }
}

// ---- small schemas ------------------------------------------------------------------------------

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ??
    known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= Math.max(1, Math.floor(k.length / 4)));
  const hint = near ? `; did you mean ${shown(near)}?` : `; allowed keys: ${known.join(', ')}`;
  return `unknown key ${shown(key)}${hint}`;
}

/** Reports keys the shape does not name (typos), with a suggestion, without stopping the parse. */
function unknownKeys(raw: Record<string, unknown>, known: readonly string[], path: ConfigPath, out: RawProblem[]): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) out.push({ path: [...path, key], message: unknownKeyMessage(key, known) });
  }
}

/** A zod object that reports unknown keys (with a did-you-mean) while still checking the known ones. */
function strictObject<S extends z.ZodRawShape>(shape: S) {
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

const nonEmptyString = z.string().trim().min(1);

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

const subjectSetShape = {
  groups: z.array(nonEmptyString).default([]),
  users: z.array(nonEmptyString).default([]),
};
const subjectSetSchema = strictObject(subjectSetShape);
const nonEmptySubjectSet = (what: string) =>
  subjectSetSchema.superRefine((set, ctx) => {
    if (set.groups.length === 0 && set.users.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must name at least one group or user` });
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

// ---- server -------------------------------------------------------------------------------------

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
    throw new HgError('HG_CONFIG_INVALID', message, { problems: [{ path: what, message }] });
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

const bodyLimitSchema = z
  .union([z.number(), z.string()], { invalid_type_error: 'must be a number of bytes or a size such as 64kb' })
  .transform((v, ctx) => {
    const r = parseByteSize(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r });
      return z.NEVER;
    }
    return r;
  });

const schedulerIntervalSchema = z
  .string({ invalid_type_error: 'must be a duration string such as 250ms or 1s' })
  .transform((text, ctx) => {
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
    if (value < 10 || value > 1000) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be between 10ms and 1s' });
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

export const serverShape = {
  listen: listenSchema.default(DEFAULTS.listen),
  store: storeSchema.default(DEFAULTS.store),
  bodyLimit: bodyLimitSchema.default(DEFAULTS.bodyLimit),
  rateLimit: strictObject({ perMinute: z.number().int().min(0).default(DEFAULTS.rateLimitPerMinute) }).default({}),
  trustedProxies: z.array(cidrSchema).default([]),
  schedulerInterval: schedulerIntervalSchema.default(`${DEFAULTS.schedulerIntervalMs}ms`),
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

// ---- principals ---------------------------------------------------------------------------------

export const principalShape = {
  id: z.string().regex(PRINCIPAL_ID_PATTERN, 'must be 1-128 characters: letters, digits and . _ @ - (not first)'),
  groups: z.array(nonEmptyString).default([]),
  roles: z.array(z.enum(ROLES)).default([]),
  apiTokens: z
    .array(
      strictObject({
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex digit SHA-256 of the token (printf %s TOKEN | sha256sum)')
          .transform((h) => h.toLowerCase()),
      }),
    )
    .default([]),
};

// ---- targets ------------------------------------------------------------------------------------

const entitlementSchema = z.preprocess(
  (v) => (v === null ? {} : v),
  z.object({ description: z.string().optional() }).passthrough(),
);

export const targetSchema = z
  .object({
    type: z.string().superRefine((type, ctx) => {
      if (!KNOWN_TARGET_TYPES.has(type)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `unknown target type ${shown(type)}; known types: ${[...KNOWN_TARGET_TYPES].join(', ')}`,
        });
      }
    }),
    entitlements: z
      .record(
        z.string().regex(ENTITLEMENT_NAME_PATTERN, 'entitlement names are 1-63 of a-z 0-9 _ - (not first)'),
        entitlementSchema,
      )
      .superRefine((rec, ctx) => {
        if (Object.keys(rec).length === 0) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must name at least one entitlement' });
        }
      }),
  })
  .passthrough();

// ---- policies -----------------------------------------------------------------------------------

const approvalSchema = strictObject({
  required: z.number().int().min(0).max(100).default(DEFAULTS.approvalsRequired),
  approvers: subjectSetSchema.default({}),
}).superRefine((a, ctx) => {
  if (a.required > 0 && a.approvers.groups.length === 0 && a.approvers.users.length === 0) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['approvers'],
      message:
        `${a.required} approval(s) required but no approvers named: list approvers.groups or approvers.users, ` +
        'or set approval.required: 0 for self-service',
    });
  }
});

const whenSchema = strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
  hours: z
    .string()
    .transform((text, ctx) => {
      const r = parseHours(text);
      if (typeof r === 'string') {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: r });
        return z.NEVER;
      }
      return r;
    })
    .optional(),
  timezone: z
    .string()
    .superRefine((tz, ctx) => {
      if (!isValidTimezone(tz)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `${shown(tz)} is not a known IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`,
        });
      }
    })
    .default(DEFAULTS.timezone),
  sourceNetworks: z.array(cidrSchema).min(1).optional(),
});

export const policyShape = {
  name: z.string().regex(POLICY_NAME_PATTERN, 'must be 1-128 characters: letters, digits and . _ - (not first)'),
  subjects: nonEmptySubjectSet('subjects'),
  entitlements: z
    .array(z.string().regex(ENTITLEMENT_REF_PATTERN, 'must be "target/entitlement", e.g. demo-db/read'))
    .min(1),
  defaultDuration: durationSchema.optional(),
  minDuration: durationSchema.optional(),
  maxDuration: durationSchema.optional(),
  reason: z.enum(['required', 'optional']).default('required'),
  ticket: strictObject({
    required: z.boolean().default(false),
    pattern: z
      .string()
      .superRefine((p, ctx) => {
        try {
          new RegExp(p);
        } catch (e) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `${shown(p)} is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '')}`,
          });
        }
      })
      .optional(),
  }).default({}),
  approval: approvalSchema.default({}),
  pendingTimeout: durationSchema.default(DEFAULTS.pendingTimeout),
  extension: strictObject({
    allowed: z.boolean().default(false),
    maxTotal: durationSchema.optional(),
    requiresApproval: z.boolean().default(true),
  }).default({}),
  when: whenSchema.optional(),
  breakGlass: z.boolean().default(false),
  review: strictObject({
    approvers: nonEmptySubjectSet('review.approvers'),
    within: durationSchema.default(DEFAULTS.reviewWithin),
  }).optional(),
};

// ---- whole file ---------------------------------------------------------------------------------

export const TOP_LEVEL_KEYS = ['server', 'principals', 'targets', 'policies', 'webhooks', 'reminders', 'audit', 'credentials'] as const;

type Shape = Record<string, z.ZodTypeAny>;
type Parsed<S extends Shape> = { [K in keyof S]?: z.output<S[K]> };

/** Parses each key on its own, so that one bad key never hides checks on the others. */
function parseFields<S extends Shape>(
  shape: S,
  raw: Record<string, unknown>,
  path: ConfigPath,
  out: RawProblem[],
): { values: Parsed<S>; ok: boolean } {
  unknownKeys(raw, Object.keys(shape), path, out);
  const values: Parsed<S> = {};
  let ok = true;
  for (const key of Object.keys(shape) as Array<keyof S & string>) {
    const r = shape[key]!.safeParse(raw[key], { errorMap: configErrorMap, path: [...path, key] });
    if (r.success) values[key] = r.data as z.output<S[typeof key]>;
    else {
      ok = false;
      issuesToProblems(r.error.issues, out);
    }
  }
  return { values, ok };
}

/** `policies[0].approval.required`; the root is `(document)`; odd keys are quoted: `targets["a b"]`. */
export function formatPath(path: ConfigPath): string {
  if (path.length === 0) return '(document)';
  return path
    .map((s, i) =>
      typeof s === 'number' ? `[${s}]` : /^[A-Za-z_$][\w$-]*$/.test(s) ? (i === 0 ? s : `.${s}`) : `[${JSON.stringify(s)}]`,
    )
    .join('');
}

function parseServer(raw: unknown, out: RawProblem[]): ServerSettings | undefined {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['server'], message: 'must be a mapping' });
    return undefined;
  }
  const { values: v, ok } = parseFields(serverShape, input, ['server'], out);
  if (!ok) return undefined;
  const t = v.timeouts!;
  if (t.headers > t.request) {
    // Node refuses it too: the headers are part of the request.
    out.push({ path: ['server', 'timeouts', 'headers'], message: 'must not be longer than timeouts.request' });
    return undefined;
  }
  return {
    listen: v.listen!,
    store: v.store!.trim(),
    bodyLimit: v.bodyLimit!,
    rateLimitPerMinute: v.rateLimit!.perMinute,
    trustedProxies: v.trustedProxies!.map((c) => c.trim()),
    schedulerIntervalMs: v.schedulerInterval!,
    allowedHosts: v.allowedHosts!,
    timeouts: { requestMs: t.request, headersMs: t.headers, keepAliveMs: t.keepAlive },
    maxRequestsPerSocket: v.maxRequestsPerSocket!,
    maxConnections: v.maxConnections!,
    maxConnectionsPerAddress: v.maxConnectionsPerAddress!,
    authFailures: v.authFailures!,
  };
}

function parsePrincipals(raw: unknown, out: RawProblem[]): ConfiguredPrincipal[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: ['principals'], message: 'must be a list of principals' });
    return [];
  }
  const result: ConfiguredPrincipal[] = [];
  const idAt = new Map<string, number>();
  const tokenAt = new Map<string, string>();
  raw.forEach((item, i) => {
    const path = ['principals', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with at least an id' });
      return;
    }
    const { values: v, ok } = parseFields(principalShape, item, path, out);
    if (v.id !== undefined) {
      const first = idAt.get(v.id);
      if (first !== undefined) {
        out.push({ path: [...path, 'id'], message: `duplicate principal id ${shown(v.id)} (also principals[${first}])` });
      } else idAt.set(v.id, i);
    }
    v.apiTokens?.forEach((t, j) => {
      const first = tokenAt.get(t.sha256);
      const here = formatPath([...path, 'apiTokens', j]);
      if (first !== undefined) {
        out.push({
          path: [...path, 'apiTokens', j, 'sha256'],
          message: `duplicate token hash (also ${first}): every token must be unique`,
        });
      } else tokenAt.set(t.sha256, here);
    });
    if (!ok) return;
    result.push({
      id: v.id!,
      groups: [...new Set(v.groups!)],
      roles: [...new Set(v.roles!)],
      apiTokens: v.apiTokens!.map((t) => t.sha256),
    });
  });
  return result;
}

let kinds: Record<string, z.ZodTypeAny> | undefined;
const kindSchemas = () => (kinds ??= targetKindSchemas({ strictObject, durationSchema, nonEmptyString }));

/**
 * Maps keyed by names that come from outside (target and entitlement names, looked up with what a
 * request names) have no prototype: `targets['constructor']` must be undefined, not Object's.
 */
export function nameMap<V>(entries: Iterable<[string, V]> = []): Record<string, V> {
  const map = Object.create(null) as Record<string, V>;
  for (const [k, v] of entries) map[k] = v;
  return map;
}

/** A parsed target whose entitlements mapping has no prototype (see nameMap). */
function withNameMaps(data: object, name: string): TargetConfig {
  const t = { ...data, name } as TargetConfig;
  return { ...t, entitlements: nameMap(Object.entries(t.entitlements)) };
}

function parseTargets(raw: unknown, out: RawProblem[]): { targets: Record<string, TargetConfig>; refs: Set<string> } {
  const targets = nameMap<TargetConfig>();
  const refs = new Set<string>();
  if (raw === undefined || raw === null) return { targets, refs };
  if (!isPlainObject(raw)) {
    out.push({ path: ['targets'], message: 'must be a mapping of target name to target' });
    return { targets, refs };
  }
  for (const [name, value] of Object.entries(raw)) {
    const path = ['targets', name];
    // Entitlement references resolve against what the file names, even when the target has other problems.
    if (isPlainObject(value) && isPlainObject(value.entitlements)) {
      for (const e of Object.keys(value.entitlements)) refs.add(`${name}/${e}`);
    }
    let ok = true;
    if (!TARGET_NAME_PATTERN.test(name)) {
      out.push({ path, message: `target name ${shown(name)} must be 1-63 of a-z 0-9 _ - (not first)` });
      ok = false;
    }
    if (!isPlainObject(value)) {
      out.push({ path, message: 'must be a mapping with type and entitlements' });
      continue;
    }
    if (value.name !== undefined && value.name !== name) {
      out.push({ path: [...path, 'name'], message: 'must match the target key (or be left out)' });
      ok = false;
    }
    const r = targetSchema.safeParse(value, { errorMap: configErrorMap, path });
    if (!r.success) {
      issuesToProblems(r.error.issues, out);
      continue;
    }
    const kind = kindSchemas()[r.data.type];
    if (kind) {
      const k = kind.safeParse(value, { errorMap: configErrorMap, path });
      if (!k.success) {
        issuesToProblems(k.error.issues, out);
        continue;
      }
      if (ok) targets[name] = withNameMaps(k.data as object, name);
      continue;
    }
    if (ok) targets[name] = withNameMaps(r.data, name);
  }
  return { targets, refs };
}

function parsePolicies(raw: unknown, refs: Set<string>, targetNames: Set<string>, out: RawProblem[]): Policy[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: ['policies'], message: 'must be a list of policies' });
    return [];
  }
  const result: Policy[] = [];
  const nameAt = new Map<string, number>();
  raw.forEach((item, i) => {
    const path: ConfigPath = ['policies', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with at least name, subjects and entitlements' });
      return;
    }
    const before = out.length;
    const { values: v } = parseFields(policyShape, item, path, out);
    const problem = (key: ConfigPath, message: string) => out.push({ path: [...path, ...key], message });

    if (v.name !== undefined) {
      const first = nameAt.get(v.name);
      if (first !== undefined) problem(['name'], `duplicate policy name ${shown(v.name)} (also policies[${first}])`);
      else nameAt.set(v.name, i);
    }
    // References are checked even when a sibling is malformed (that one has its own problem).
    const entitlementRefs: unknown[] = Array.isArray(item.entitlements) ? item.entitlements : [];
    entitlementRefs.forEach((ref, j) => {
      if (typeof ref !== 'string' || !ENTITLEMENT_REF_PATTERN.test(ref) || refs.has(ref)) return;
      const target = ref.split('/')[0]!;
      const known = targetNames.has(target);
      problem(
        ['entitlements', j],
        known
          ? `${shown(ref)}: target ${shown(target)} has no such entitlement`
          : `${shown(ref)}: no target named ${shown(target)} is configured`,
      );
    });

    // Durations, with defaults that depend on each other (checked only when each given one parsed).
    const durationKeys = ['maxDuration', 'minDuration', 'defaultDuration'] as const;
    const durationsOk = durationKeys.every((k) => item[k] === undefined || v[k] !== undefined);
    let durations: { min: number; max: number; def: number } | undefined;
    if (durationsOk) {
      const max = v.maxDuration ?? DEFAULTS.maxDuration;
      const min = v.minDuration ?? (max < DEFAULTS.minDuration ? DEFAULTS.minDurationShort : DEFAULTS.minDuration);
      const def = v.defaultDuration ?? Math.max(min, Math.min(DEFAULTS.defaultDurationCap, max));
      if (min > max) {
        problem(
          [item.minDuration !== undefined ? 'minDuration' : 'maxDuration'],
          `minDuration (${formatDuration(min)}) must not be longer than maxDuration (${formatDuration(max)})`,
        );
      } else if (def < min || def > max) {
        problem(
          ['defaultDuration'],
          `defaultDuration (${formatDuration(def)}) must be within minDuration (${formatDuration(min)}) and maxDuration (${formatDuration(max)})`,
        );
      } else durations = { min, max, def };
    }

    let maxTotal: number | undefined;
    if (v.extension && durations) {
      maxTotal = v.extension.maxTotal ?? durations.max;
      if (maxTotal < durations.min) {
        problem(['extension', 'maxTotal'], 'extension.maxTotal must not be shorter than minDuration');
      }
    }

    if (v.breakGlass === true && item.review === undefined) {
      problem(
        ['review'],
        'a break-glass policy must be reviewed: add review: { approvers: { groups: [...] }, within: 24h }',
      );
    }
    if (v.breakGlass === false && item.review !== undefined) {
      problem(['review'], 'review applies only to break-glass policies: set breakGlass: true or remove review');
    }

    if (out.length !== before || !durations || maxTotal === undefined) return;
    const policy: Policy = {
      name: v.name!,
      subjects: v.subjects! as SubjectSet,
      entitlements: [...v.entitlements!],
      defaultDuration: durations.def,
      minDuration: durations.min,
      maxDuration: durations.max,
      reason: v.reason!,
      ticket: { required: v.ticket!.required, ...(v.ticket!.pattern !== undefined ? { pattern: v.ticket!.pattern } : {}) },
      approval: { required: v.approval!.required, approvers: v.approval!.approvers as SubjectSet },
      pendingTimeout: v.pendingTimeout!,
      extension: { allowed: v.extension!.allowed, maxTotal, requiresApproval: v.extension!.requiresApproval },
      breakGlass: v.breakGlass!,
    };
    if (v.when) {
      const when: TimeWindow = { timezone: v.when.timezone };
      if (v.when.days) when.days = [...v.when.days];
      if (v.when.hours) when.hours = v.when.hours;
      if (v.when.sourceNetworks) when.sourceNetworks = v.when.sourceNetworks.map((c) => c.trim());
      policy.when = when;
    }
    if (v.review) policy.review = { approvers: v.review.approvers as SubjectSet, within: v.review.within };
    result.push(policy);
  });
  return result;
}


// ---- webhooks, reminders, audit ------------------------------------------------------------------

const httpUrlSchema = z.string().superRefine((text, ctx) => {
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

const secretSchema = z.string().min(16, 'must be at least 16 characters (use a random value from an environment variable)');
const eventPatternSchema = z.string().regex(/^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/, 'must be an event type, a prefix ending in .* or *');

export const webhookShape = {
  name: z.string().regex(POLICY_NAME_PATTERN, 'must be 1-128 characters: letters, digits and . _ - (not first)'),
  url: httpUrlSchema,
  secret: secretSchema,
  events: z.array(eventPatternSchema).min(1).default(['*']),
  timeout: durationSchema.default('10s'),
};

function parseWebhooks(raw: unknown, out: RawProblem[]): WebhookEndpoint[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: ['webhooks'], message: 'must be a list of webhooks: [{ name, url, secret, events }]' });
    return [];
  }
  const result: WebhookEndpoint[] = [];
  const names = new Set<string>();
  raw.forEach((item, i) => {
    const path = ['webhooks', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with name, url and secret' });
      return;
    }
    const { values: v, ok } = parseFields(webhookShape, item, path, out);
    if (v.name !== undefined) {
      if (names.has(v.name)) out.push({ path: [...path, 'name'], message: `duplicate webhook name ${shown(v.name)}` });
      names.add(v.name);
    }
    if (!ok) return;
    result.push({ name: v.name!, url: v.url!, secret: v.secret!, events: v.events!, timeoutMs: v.timeout! });
  });
  return result;
}

const optionalDuration = z.union([z.literal(0), durationSchema]).transform((v) => (v === 0 ? 0 : v));

export const remindersShape = {
  beforeExpiry: optionalDuration.default('15m'),
  beforePendingTimeout: optionalDuration.default('1h'),
};

function parseReminders(raw: unknown, out: RawProblem[]): ReminderSettings {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['reminders'], message: 'must be a mapping' });
    return { beforeExpiryMs: 0, beforePendingTimeoutMs: 0 };
  }
  const { values: v } = parseFields(remindersShape, input, ['reminders'], out);
  return { beforeExpiryMs: v.beforeExpiry ?? 0, beforePendingTimeoutMs: v.beforePendingTimeout ?? 0 };
}

export const checkpointShape = {
  every: z.number().int().min(0).default(1000),
  interval: optionalDuration.default('5m'),
  signingKey: z.string().optional(),
  keyFile: nonEmptyString.optional(),
  generateKey: z.boolean().default(false),
  file: nonEmptyString.optional(),
  webhook: strictObject({ url: httpUrlSchema, secret: secretSchema }).optional(),
};

function parseAudit(raw: unknown, out: RawProblem[]): AuditSettings {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    out.push({ path: ['audit'], message: 'must be a mapping' });
    return {};
  }
  unknownKeys(raw, ['checkpoints'], ['audit'], out);
  const cp = raw.checkpoints;
  if (cp === undefined || cp === null) return {};
  const path = ['audit', 'checkpoints'];
  if (!isPlainObject(cp)) {
    out.push({ path, message: 'must be a mapping' });
    return {};
  }
  const before = out.length;
  const { values: v, ok } = parseFields(checkpointShape, cp, path, out);
  if (!ok) return {};
  if (v.signingKey === undefined && v.keyFile === undefined) {
    out.push({ path, message: 'name the Ed25519 signing key: signingKey (PEM, e.g. from ${ENV}) or keyFile' });
  }
  if (v.signingKey !== undefined && !/-----BEGIN PRIVATE KEY-----/.test(v.signingKey)) {
    out.push({ path: [...path, 'signingKey'], message: 'must be an Ed25519 private key in PEM (PKCS#8) form' });
  }
  if (v.generateKey && v.keyFile === undefined) out.push({ path: [...path, 'generateKey'], message: 'needs keyFile to write the key to' });
  if (v.every === 0 && v.interval === 0) out.push({ path, message: 'set every (events) or interval (time), or remove checkpoints' });
  if (out.length !== before) return {};
  const checkpoints: CheckpointSettings = { everyEvents: v.every!, intervalMs: v.interval!, generateKey: v.generateKey! };
  if (v.signingKey !== undefined) checkpoints.signingKeyPem = v.signingKey;
  if (v.keyFile !== undefined) checkpoints.keyFile = v.keyFile;
  if (v.file !== undefined) checkpoints.file = v.file;
  if (v.webhook !== undefined) checkpoints.webhook = v.webhook;
  return { checkpoints };
}

export const credentialsShape = {
  key: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be base64 of 32 random bytes (openssl rand -base64 32)')
    .optional(),
  keyFile: nonEmptyString.optional(),
  generateKey: z.boolean().default(false),
};

/** Kinds whose grants hand out credentials that Hourglass must keep (encrypted) until the grant ends. */
const ISSUES_CREDENTIALS = (t: TargetConfig) => t.type === 'mariadb' || t.type === 'redis' || (t.type === 'postgres' && t.mode !== 'membership');

function parseCredentials(raw: unknown, targets: Record<string, TargetConfig>, out: RawProblem[]): HourglassConfig['credentials'] {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['credentials'], message: 'must be a mapping' });
    return { generateKey: false };
  }
  const { values: v } = parseFields(credentialsShape, input, ['credentials'], out);
  const result: HourglassConfig['credentials'] = { generateKey: v.generateKey ?? false };
  if (v.key !== undefined) result.key = v.key;
  if (v.keyFile !== undefined) result.keyFile = v.keyFile;
  if (result.generateKey && !result.keyFile) out.push({ path: ['credentials', 'generateKey'], message: 'needs keyFile to write the key to' });
  const needing = Object.values(targets).filter(ISSUES_CREDENTIALS).map((t) => t.name);
  if (needing.length && !result.key && !result.keyFile) {
    out.push({
      path: ['credentials'],
      message: `targets ${needing.join(', ')} issue credentials, which are kept encrypted: set credentials.key (\${ENV}) or credentials.keyFile`,
    });
  }
  return result;
}

/**
 * A target's settings without its secrets: the hash is recorded with every decision, and a hash
 * over a low-entropy password could be searched offline. Rotating a password is not a policy change.
 */
function withoutSecrets(target: TargetConfig): TargetConfig {
  const copy: TargetConfig = { ...target };
  if (typeof copy.url === 'string') {
    try {
      const url = new URL(copy.url);
      if (url.password) url.password = '';
      copy.url = url.toString();
    } catch {
      // not a URL: nothing to strip
    }
  }
  if (copy.tls && typeof copy.tls === 'object' && 'key' in (copy.tls as object)) {
    const { key: _key, ...tls } = copy.tls as Record<string, unknown>;
    copy.tls = tls;
  }
  return copy;
}

/** SHA-256 over the canonical form of principals (id, groups, roles), targets and policies. */
export function policyHashOf(
  principals: readonly Principal[],
  targets: Record<string, TargetConfig>,
  policies: readonly Policy[],
): string {
  return sha256Hex(
    canonicalJson({
      principals: principals.map((p) => ({ id: p.id, groups: p.groups, roles: p.roles })),
      targets: Object.fromEntries(Object.entries(targets).map(([name, t]) => [name, withoutSecrets(t)])),
      policies,
    }),
  );
}

/**
 * Validates the plain value of a whole configuration file. Returns the config only when there
 * are no problems; otherwise every problem found.
 */
export function validateConfig(raw: unknown): { config?: HourglassConfig; problems: RawProblem[] } {
  const problems: RawProblem[] = [];
  if (raw === undefined || raw === null) {
    problems.push({ path: [], message: 'the configuration is empty: expected a mapping with server, principals, targets and policies' });
    return { problems };
  }
  if (!isPlainObject(raw)) {
    problems.push({ path: [], message: 'the configuration must be a mapping with server, principals, targets and policies' });
    return { problems };
  }
  unknownKeys(raw, TOP_LEVEL_KEYS, [], problems);
  const server = parseServer(raw.server, problems);
  const principals = parsePrincipals(raw.principals, problems);
  const { targets, refs } = parseTargets(raw.targets, problems);
  const targetNames = new Set(isPlainObject(raw.targets) ? Object.keys(raw.targets) : []);
  const policies = parsePolicies(raw.policies, refs, targetNames, problems);
  const webhooks = parseWebhooks(raw.webhooks, problems);
  const reminders = parseReminders(raw.reminders, problems);
  const audit = parseAudit(raw.audit, problems);
  const credentials = parseCredentials(raw.credentials, targets, problems);
  if (problems.length > 0 || !server) return { problems };
  const policyHash = policyHashOf(principals, targets, policies);
  return { config: { server, principals, targets, policies, webhooks, reminders, audit, credentials, policyHash }, problems };
}

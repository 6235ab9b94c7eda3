/**
 * The webhook target's settings: their schema (the loader applies it, with the defaults), the
 * checks it cannot make (plain http only to this host, a timeout inside the call's), and the
 * typed shape the connector reads from a validated target.
 */
import { z } from 'zod';
import {
  durationSchema,
  entitlementDescription,
  httpUrlSchema,
  parseByteSize,
  strictObject,
  targetSettings,
  type TargetProblem,
} from '../../../config/schema.js';
import type { TargetConfig } from '../../../core/types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
/** A response is decrypted, parsed and kept in memory: a megabyte is plenty for a handle and credentials. */
const MAX_RESPONSE_BYTES_LIMIT = 1024 * 1024;
/** The callTimeout default (callingTargetShape), for targets built without the loader. */
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const MIN_SECRET_LENGTH = 32;

const responseBytesSchema = z
  .union([z.number(), z.string()], { invalid_type_error: 'must be a number of bytes or a size such as 64kb' })
  .transform((v, ctx) => {
    const r = parseByteSize(v);
    if (typeof r === 'string' || r > MAX_RESPONSE_BYTES_LIMIT) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: typeof r === 'string' ? r : 'must be at most 1mb' });
      return z.NEVER;
    }
    return r;
  });

/** `refunds:` with nothing after it is an entitlement without attributes. */
const entitlementSchema = z.preprocess(
  (v) => (v === null ? {} : v),
  strictObject({
    description: entitlementDescription,
    attributes: z.record(z.unknown()).optional().describe('any JSON mapping, sent to the receiver with the entitlement name'),
  }),
);

export const webhookSettingsSchema = targetSettings(
  {
    url: httpUrlSchema.describe('the receiver: grant, extend and revoke are signed POSTs to it (https://; http:// only to a loopback address)'),
    secret: z
      .string()
      .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters (a random value from the environment: openssl rand -hex 32)`)
      .describe('HMAC-SHA256 key of the Hourglass-Signature header, shared with the receiver; put it in the environment'),
    timeout: durationSchema.default('10s').describe('one POST (connect, send, full answer) that takes longer fails and is retried; below callTimeout'),
    maxResponseBytes: responseBytesSchema.default(DEFAULT_MAX_RESPONSE_BYTES).describe('a larger answer fails the call (bytes, or 64kb, 1mb; at most 1mb)'),
  },
  entitlementSchema,
  { accounts: false },
);

export interface WebhookSettings {
  targetName: string;
  url: string;
  secret: string;
  timeoutMs: number;
  maxResponseBytes: number;
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|::1)$/i;

/** The semantic checks, with paths relative to the target. */
export function webhookProblems(target: TargetConfig): TargetProblem[] {
  const problems: TargetProblem[] = [];
  let url: URL | undefined;
  try {
    url = new URL(String(target.url));
  } catch {
    problems.push({ path: ['url'], message: 'must be an http:// or https:// URL' });
  }
  // Grants may answer with credentials: they never cross a network in clear text.
  if (url?.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname.replace(/^\[|\]$/g, ''))) {
    problems.push({ path: ['url'], message: 'must be https:// (plain http:// only to a loopback address: answers may carry credentials)' });
  }
  const timeout = numberOr(target.timeout, DEFAULT_TIMEOUT_MS);
  const callTimeout = numberOr(target.callTimeout, DEFAULT_CALL_TIMEOUT_MS);
  if (timeout >= callTimeout) {
    problems.push({
      path: ['timeout'],
      message: `must be below callTimeout (${callTimeout / 1000}s), or a slow receiver is given up on before its answer is read`,
    });
  }
  if (typeof target.secret !== 'string' || target.secret.length < MIN_SECRET_LENGTH) {
    problems.push({ path: ['secret'], message: `must be at least ${MIN_SECRET_LENGTH} characters` });
  }
  return problems;
}

/** The typed settings of a target that passed the schema and `webhookProblems`. */
export function readSettings(target: TargetConfig): WebhookSettings {
  return {
    targetName: target.name,
    url: String(target.url),
    secret: String(target.secret ?? ''),
    timeoutMs: numberOr(target.timeout, DEFAULT_TIMEOUT_MS),
    maxResponseBytes: numberOr(target.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES),
  };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Input shapes, validated with zod; a failure is HG_INVALID_INPUT naming each bad field. */
import { z } from 'zod';
import { HgError } from '../core/errors.js';
import { REQUEST_STATUSES } from '../core/types.js';

/** A lone UTF-16 surrogate: valid in a JSON string, not Unicode, and it breaks strict JSON readers of the export. */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
const WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate)';

/** Free text that is stored or echoed: bounded, and refused when it holds a lone surrogate. */
export const text = (max: number, min = 0) => z.string().min(min).max(max).refine(wellFormed, WELL_FORMED);
export const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), 'must be an ISO-8601 date-time')
  .transform((s) => Date.parse(s));

export const submitBody = z
  .object({
    entitlements: z.array(text(200, 3)).min(1).max(20),
    duration: text(32).optional(),
    reason: text(2000).optional(),
    ticket: text(200).optional(),
    startAt: isoTime.optional(),
    breakGlass: z.boolean().optional(),
    policy: text(200).optional(),
  })
  .strict();

export const commentBody = z.object({ comment: text(2000).optional() }).strict();
export const reasonBody = z.object({ reason: text(2000).optional() }).strict();
export const extendBody = z.object({ duration: text(32), reason: text(2000).optional() }).strict();
export const reviewBody = z.object({ comment: text(2000, 1) }).strict();
export const credentialsBody = z
  .object({
    publicKey: text(8192, 1).optional().describe('an OpenSSH public key line, for targets that issue SSH certificates'),
    target: text(63, 1).optional().describe('only the credentials of this target'),
  })
  .strict()
  .default({});

const limit = z.coerce.number().int().min(1).max(1000).default(100);
export const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const listRequestsQuery = z
  .object({
    status: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(REQUEST_STATUSES)))
      .optional(),
    requester: text(200).optional(),
    mine: bool.optional(),
    approvable: bool.optional(),
    reviewable: bool.optional(),
    limit,
    cursor: text(200).optional(),
  })
  .strict();

// Not `text`: nothing of a check is stored, a lone surrogate matches no grant, and this is the hot path.
export const checkQuery = z.object({ principal: z.string().max(200).min(1), entitlement: z.string().max(200).min(1) }).strict();
/** Most pairs one batch check may ask about. */
export const CHECK_BATCH_MAX = 1000;
export const checkBatchBody = z.object({ checks: z.array(checkQuery).min(1).max(CHECK_BATCH_MAX) }).strict();

export const grantsQuery = z.object({ principal: text(200).optional(), entitlement: text(200).optional(), limit, cursor: text(200).optional() }).strict();

export const auditQuery = z
  .object({
    requestId: text(200).optional(),
    actor: text(200).optional(),
    type: text(200).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    limit,
    cursor: z.coerce.number().int().min(0).optional(),
  })
  .strict();

export const verifyQuery = z.object({ expectHead: text(200).optional() }).strict();

/** `where` names the whole input in a problem about it rather than one of its members. */
export function parse<T extends z.ZodTypeAny>(schema: T, value: unknown, where: 'body' | 'query' | 'params' = 'body'): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => ({ path: i.path.join('.') || `(${where})`, message: i.message }));
  throw new HgError('HG_INVALID_INPUT', problems.map((p) => `${p.path}: ${p.message}`).join('; '), { details: { problems } });
}

/** The `policies` section: who may request what, for how long, with whose approval, when. */
import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import type { ApproverSet, Policy, SubjectSet, TimeWindow } from '../../core/types.js';
import {
  cidrSchema,
  DEFAULTS,
  durationSchema,
  ENTITLEMENT_REF_PATTERN,
  isValidTimezone,
  nonEmptyString,
  parseHours,
  POLICY_NAME_PATTERN,
  strictObject,
  WEEKDAYS,
} from '../primitives.js';
import { isPlainObject, parseFields, shown, type ConfigPath, type RawProblem } from '../problems.js';

const subjectSetShape = {
  groups: z.array(nonEmptyString).default([]),
  users: z.array(nonEmptyString).default([]),
};
// `manager` is told apart from other unknown keys: it names approvers, never who may request.
const subjectsSchema = z.preprocess(
  (value, ctx) => {
    if (!isPlainObject(value) || !('manager' in value)) return value;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['manager'],
      message: 'manager names an approver, not who may request: subjects take groups and users only',
    });
    const { manager: _manager, ...rest } = value;
    return rest;
  },
  strictObject(subjectSetShape).superRefine((set, ctx) => {
    if (set.groups.length === 0 && set.users.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'subjects must name at least one group or user' });
    }
  }),
);

const approverSetSchema = strictObject({ ...subjectSetShape, manager: z.boolean().default(false) });
type ApproverSetInput = z.output<typeof approverSetSchema>;
const namesNobody = (set: ApproverSetInput) => set.groups.length === 0 && set.users.length === 0 && !set.manager;
const nonEmptyApproverSet = (what: string) =>
  approverSetSchema.superRefine((set, ctx) => {
    if (namesNobody(set)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must name at least one group or user, or manager: true` });
    }
  });

/** As the core keeps it: `manager` only when true, so policies without it hash as before. */
const approverSet = (set: ApproverSetInput): ApproverSet => ({
  groups: set.groups,
  users: set.users,
  ...(set.manager ? { manager: true as const } : {}),
});

const escalationTierSchema = strictObject({
  after: durationSchema,
  approvers: nonEmptyApproverSet('escalation approvers').optional(),
  onCall: z.string().min(1).optional(),
}).superRefine((t, ctx) => {
  if ((t.approvers === undefined) === (t.onCall === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a tier names approvers or onCall (a schedule), one of the two' });
  }
});

const approvalSchema = strictObject({
  required: z.number().int().min(0).max(100).default(DEFAULTS.approvalsRequired),
  approvers: approverSetSchema.default({}),
  fromChat: z.boolean().default(false),
  escalation: z.array(escalationTierSchema).max(5).default([]),
  onCall: z.string().min(1).optional(),
}).superRefine((a, ctx) => {
  a.escalation.forEach((tier, i) => {
    const before = a.escalation[i - 1];
    if (before && tier.after <= before.after) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['escalation', i, 'after'],
        message: `must be later than the tier before (${formatDuration(before.after)})`,
      });
    }
  });
  if (a.required === 0 && a.escalation.length > 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['escalation'], message: 'escalation needs approvals: approval.required is 0' });
  }
  if (a.required > 0 && namesNobody(a.approvers)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['approvers'],
      message:
        `${a.required} approval(s) required but no approvers named: list approvers.groups or approvers.users, ` +
        'set approvers.manager: true, or set approval.required: 0 for self-service',
    });
  } else if (a.required > 1 && a.approvers.manager && a.approvers.groups.length === 0 && a.approvers.users.length === 0) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['approvers'],
      message: `${a.required} approvals required but the requester's manager alone can give only 1: add approvers.groups or approvers.users`,
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
  subjects: subjectsSchema,
  entitlements: z.array(z.string().regex(ENTITLEMENT_REF_PATTERN, 'must be "target/entitlement", e.g. demo-db/read')).min(1),
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
    system: z.string().min(1).optional(),
    states: z.array(nonEmptyString).min(1).optional(),
    endsWithTicket: z.boolean().default(false),
    comment: z.boolean().default(false),
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
    approvers: nonEmptyApproverSet('review.approvers'),
    within: durationSchema.default(DEFAULTS.reviewWithin),
  }).optional(),
  mfa: strictObject({
    required: z.boolean().default(false),
    maxAge: durationSchema.default('5m'),
    for: z
      .array(z.enum(['request', 'approve', 'credentials']))
      .min(1, 'must name at least one of request, approve, credentials')
      .default(['request', 'approve', 'credentials']),
  }).optional(),
};

export function parsePolicies(
  raw: unknown,
  refs: Set<string>,
  targetNames: Set<string>,
  out: RawProblem[],
  ticketSystems: readonly string[] = [],
  onCallNames: readonly string[] = [],
): Policy[] {
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
        known ? `${shown(ref)}: target ${shown(target)} has no such entitlement` : `${shown(ref)}: no target named ${shown(target)} is configured`,
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

    const onCall = v.approval?.onCall;
    if (v.breakGlass === true && item.review === undefined) {
      problem(['review'], 'a break-glass policy must be reviewed: add review: { approvers: { groups: [...] }, within: 24h }');
    }
    if (onCall !== undefined && item.review === undefined) {
      problem(
        ['review'],
        'approval.onCall grants without an approver, so the grant must be reviewed: add review: { approvers: { groups: [...] }, within: 24h }',
      );
    }
    if (v.breakGlass === false && onCall === undefined && item.review !== undefined) {
      problem(['review'], 'review applies only to break-glass policies and approval.onCall: set breakGlass: true or remove review');
    }
    const schedules: { at: ConfigPath; name: string }[] = onCall !== undefined ? [{ at: ['approval', 'onCall'], name: onCall }] : [];
    v.approval?.escalation.forEach((t, j) => {
      if (t.onCall !== undefined) schedules.push({ at: ['approval', 'escalation', j, 'onCall'], name: t.onCall });
    });
    for (const { at, name } of schedules) {
      if (!onCallNames.includes(name))
        problem(at, `no oncall entry is named ${shown(name)}${onCallNames.length ? ` (configured: ${onCallNames.join(', ')})` : ''}`);
    }
    if (onCall !== undefined && v.approval?.required === 0) problem(['approval', 'onCall'], 'needs approvals to stand in for: approval.required is 0');

    const t = v.ticket;
    if (t && t.system === undefined && (t.states || t.endsWithTicket || t.comment)) {
      problem(['ticket', 'system'], 'states, endsWithTicket and comment need the system to check the ticket in (a tickets[].name)');
    }
    if (t?.system !== undefined && !ticketSystems.includes(t.system)) {
      problem(['ticket', 'system'], `no tickets entry is named ${shown(t.system)}${ticketSystems.length ? ` (configured: ${ticketSystems.join(', ')})` : ''}`);
    }
    if (t?.endsWithTicket && !t.states)
      problem(['ticket', 'states'], 'endsWithTicket needs states: the states in which the access may last (e.g. [In Progress])');
    if (v.approval?.fromChat && v.mfa?.required && v.mfa.for.includes('approve')) {
      problem(
        ['approval', 'fromChat'],
        'approving from chat cannot prove MFA: this policy requires MFA to approve (mfa.for includes approve), so approvers decide in the web UI',
      );
    }
    if (v.approval?.escalation.length && v.pendingTimeout !== undefined) {
      const last = v.approval.escalation.at(-1)!;
      if (last.after >= v.pendingTimeout) {
        problem(
          ['approval', 'escalation', v.approval.escalation.length - 1, 'after'],
          `must be shorter than pendingTimeout (${formatDuration(v.pendingTimeout)}): the request times out first`,
        );
      }
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
      ticket: {
        required: v.ticket!.required,
        ...(v.ticket!.pattern !== undefined ? { pattern: v.ticket!.pattern } : {}),
        ...(v.ticket!.system !== undefined ? { system: v.ticket!.system } : {}),
        ...(v.ticket!.states !== undefined ? { states: v.ticket!.states } : {}),
        ...(v.ticket!.endsWithTicket ? { endsWithTicket: true as const } : {}),
        ...(v.ticket!.comment ? { comment: true as const } : {}),
      },
      approval: {
        required: v.approval!.required,
        approvers: approverSet(v.approval!.approvers),
        ...(v.approval!.fromChat ? { fromChat: true as const } : {}),
        ...(v.approval!.escalation.length
          ? {
              escalation: v.approval!.escalation.map((t) =>
                t.onCall !== undefined ? { afterMs: t.after, onCall: t.onCall } : { afterMs: t.after, approvers: approverSet(t.approvers!) },
              ),
            }
          : {}),
        ...(v.approval!.onCall !== undefined ? { onCall: v.approval!.onCall } : {}),
      },
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
    if (v.review) policy.review = { approvers: approverSet(v.review.approvers), within: v.review.within };
    if (v.mfa?.required) {
      if (v.mfa.maxAge < 60_000 || v.mfa.maxAge > 12 * 3_600_000) problem(['mfa', 'maxAge'], 'must be between 1m and 12h');
      else policy.mfa = { for: [...new Set(v.mfa.for)].sort(), maxAgeMs: v.mfa.maxAge };
    }
    result.push(policy);
  });
  return result;
}

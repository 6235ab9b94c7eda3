/**
 * The policies in force, read-only, as the loader normalised them (defaults filled in, durations
 * in ms, hours in minutes after local midnight): GET /v1/policies, for admins and auditors. A
 * policy holds no secret (subjects, entitlements, terms), and each field is copied by name, so
 * anything added to the Policy type later stays out until it is listed here.
 *
 * This module imports nothing but types and the error class, so that the web UI can import its
 * types without the server's code.
 */
import { HgError } from '../core/errors.js';
import type { ApproverSet, MfaAction, Policy, Principal, Weekday } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';

export interface PolicyApproversJson {
  groups: string[];
  users: string[];
  /** The requester's manager approves (`manager: true` in the file). */
  manager?: true;
}

export interface PolicyJson {
  name: string;
  subjects: { groups: string[]; users: string[] };
  entitlements: string[];
  defaultDuration: number;
  minDuration: number;
  maxDuration: number;
  reason: 'required' | 'optional';
  ticket: { required: boolean; pattern?: string; system?: string; states?: string[]; endsWithTicket?: true; comment?: true };
  approval: {
    required: number;
    approvers: PolicyApproversJson;
    fromChat?: true;
    /** `after` in ms; each tier names approvers or an on-call schedule. */
    escalation?: { after: number; approvers?: PolicyApproversJson; onCall?: string }[];
    onCall?: string;
  };
  pendingTimeout: number;
  extension: { allowed: boolean; maxTotal: number; requiresApproval: boolean };
  /** `hours` in minutes after local midnight (`to` < `from`: across midnight). */
  when?: { days?: Weekday[]; hours?: { from: number; to: number }; timezone: string; sourceNetworks?: string[] };
  breakGlass: boolean;
  review?: { approvers: PolicyApproversJson; within: number };
  mfa?: { for: MfaAction[]; maxAge: number };
}

export interface PolicyListJson {
  policyHash: string;
  policies: PolicyJson[];
}

const approvers = (a: ApproverSet): PolicyApproversJson => ({ groups: [...a.groups], users: [...a.users], ...(a.manager ? { manager: true } : {}) });

export function policyJson(p: Policy): PolicyJson {
  const w = p.when;
  return {
    name: p.name,
    subjects: { groups: [...p.subjects.groups], users: [...p.subjects.users] },
    entitlements: [...p.entitlements],
    defaultDuration: p.defaultDuration,
    minDuration: p.minDuration,
    maxDuration: p.maxDuration,
    reason: p.reason,
    ticket: {
      required: p.ticket.required,
      ...(p.ticket.pattern !== undefined ? { pattern: p.ticket.pattern } : {}),
      ...(p.ticket.system !== undefined ? { system: p.ticket.system } : {}),
      ...(p.ticket.states ? { states: [...p.ticket.states] } : {}),
      ...(p.ticket.endsWithTicket ? { endsWithTicket: true as const } : {}),
      ...(p.ticket.comment ? { comment: true as const } : {}),
    },
    approval: {
      required: p.approval.required,
      approvers: approvers(p.approval.approvers),
      ...(p.approval.fromChat ? { fromChat: true as const } : {}),
      ...(p.approval.escalation
        ? {
            escalation: p.approval.escalation.map((t) => ({
              after: t.afterMs,
              ...(t.approvers ? { approvers: approvers(t.approvers) } : {}),
              ...(t.onCall ? { onCall: t.onCall } : {}),
            })),
          }
        : {}),
      ...(p.approval.onCall ? { onCall: p.approval.onCall } : {}),
    },
    pendingTimeout: p.pendingTimeout,
    extension: { allowed: p.extension.allowed, maxTotal: p.extension.maxTotal, requiresApproval: p.extension.requiresApproval },
    ...(w
      ? {
          when: {
            ...(w.days ? { days: [...w.days] } : {}),
            ...(w.hours ? { hours: { from: w.hours.from, to: w.hours.to } } : {}),
            timezone: w.timezone,
            ...(w.sourceNetworks ? { sourceNetworks: [...w.sourceNetworks] } : {}),
          },
        }
      : {}),
    breakGlass: p.breakGlass,
    ...(p.review ? { review: { approvers: approvers(p.review.approvers), within: p.review.within } } : {}),
    ...(p.mfa ? { mfa: { for: [...p.mfa.for], maxAge: p.mfa.maxAgeMs } } : {}),
  };
}

/** The policies of the configuration in force, in file order (the order candidates are tried in). */
export function listPolicies(config: HourglassConfig, actor: Principal): PolicyListJson {
  if (!actor.roles.includes('admin') && !actor.roles.includes('auditor')) {
    throw new HgError('HG_FORBIDDEN', 'the admin or auditor role is needed to read the policies');
  }
  return { policyHash: config.policyHash, policies: config.policies.map(policyJson) };
}

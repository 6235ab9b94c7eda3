import ipaddr from 'ipaddr.js';
import { formatDuration } from './duration.js';
import type { ApproverSet, Policy, PolicyTerms, Principal, RequestApprovers, SubjectSet, TimeWindow, Weekday } from './types.js';

/** What a requester asks for, as policy evaluation sees it. */
export interface RequestAsk {
  requester: Principal;
  entitlements: string[];
  /** Omitted: each candidate policy's default duration applies. */
  durationMs?: number;
  reason?: string;
  ticket?: string;
  startAt?: number;
  sourceIp?: string;
  breakGlass: boolean;
  /** Restrict candidates to the policy of this name. */
  policyName?: string;
  /**
   * The requester's manager as an approver, as the caller resolved it (`managerOf`, and known to the
   * directory). Absent: policies whose approvals or review only the manager could give are not met.
   */
  manager?: string;
  now: number;
}

export interface CandidateVerdict {
  policy: string;
  reasons: string[];
}

export type Evaluation =
  | { ok: true; durationMs: number; chosen: Record<string, Policy>; candidates: Record<string, CandidateVerdict[]> }
  | { ok: false; code: 'HG_NOT_ELIGIBLE' | 'HG_TERMS_NOT_MET'; message: string; candidates: Record<string, CandidateVerdict[]> };

/** Whether a principal is in a set: by id, by group, or (approvers frozen into a request) as the requester's manager then. */
export function subjectMatches(set: SubjectSet | RequestApprovers, principal: Principal): boolean {
  if (set.users.includes(principal.id) || set.groups.some((g) => principal.groups.includes(g))) return true;
  // A policy's `manager: true` is no id: it matches nobody until submission freezes the manager's id.
  const manager = (set as RequestApprovers).manager;
  return typeof manager === 'string' && manager === principal.id;
}

/** A principal's manager as an approver: none when unset or themselves (nobody approves their own request). */
export function managerOf(principal: Principal): string | undefined {
  return principal.manager !== undefined && principal.manager !== principal.id ? principal.manager : undefined;
}

/** The policy names the requester's manager among its approvers or reviewers. */
export function namesManager(policy: Policy): boolean {
  return policy.approval.approvers.manager === true || policy.review?.approvers.manager === true;
}

/** Only the requester's manager could approve from this set. */
function managerOnly(set: ApproverSet): boolean {
  return set.manager === true && set.groups.length === 0 && set.users.length === 0;
}

/**
 * The policies that could apply to one entitlement for this requester, in file order.
 * Break-glass policies are candidates only when the request asks for break-glass; naming a
 * policy restricts the candidates to it (and may select a break-glass policy).
 */
export function candidatesFor(policies: readonly Policy[], ask: RequestAsk, entitlement: string): Policy[] {
  return policies.filter((p) => {
    if (!p.entitlements.includes(entitlement) || !subjectMatches(p.subjects, ask.requester)) return false;
    if (ask.policyName !== undefined) return p.name === ask.policyName;
    return ask.breakGlass ? p.breakGlass : !p.breakGlass;
  });
}

/** Why a request breaks one policy's terms; empty when it meets them all. */
export function termViolations(policy: Policy, ask: RequestAsk, durationMs: number): string[] {
  const reasons: string[] = [];
  if (ask.breakGlass && !policy.breakGlass) reasons.push(`policy ${policy.name} is not a break-glass policy`);
  if (durationMs < policy.minDuration) {
    reasons.push(`duration ${formatDuration(durationMs)} is below the minimum ${formatDuration(policy.minDuration)}`);
  }
  if (durationMs > policy.maxDuration) {
    reasons.push(`duration ${formatDuration(durationMs)} exceeds the maximum ${formatDuration(policy.maxDuration)}`);
  }
  if (policy.reason === 'required' && !ask.reason?.trim()) reasons.push('a reason is required');
  if (policy.ticket.required && !ask.ticket?.trim()) reasons.push('a ticket is required');
  if (ask.ticket && policy.ticket.pattern && !new RegExp(policy.ticket.pattern).test(ask.ticket)) {
    reasons.push(`ticket "${ask.ticket}" does not match ${policy.ticket.pattern}`);
  }
  if (ask.manager === undefined || ask.manager === ask.requester.id) {
    const nobody = `${ask.requester.id} has no manager known to Hourglass`;
    if (policy.approval.required > 0 && managerOnly(policy.approval.approvers)) {
      reasons.push(`only the requester's manager may approve, and ${nobody}`);
    }
    if (policy.review && managerOnly(policy.review.approvers)) reasons.push(`only the requester's manager may review, and ${nobody}`);
  }
  if (policy.when) {
    reasons.push(...windowViolations(policy.when, ask.now));
    if (ask.startAt !== undefined && ask.startAt > ask.now) {
      reasons.push(...windowViolations(policy.when, ask.startAt).map((r) => `at the requested start: ${r}`));
    }
    if (policy.when.sourceNetworks?.length && !inNetworks(ask.sourceIp, policy.when.sourceNetworks)) {
      reasons.push(`source address ${ask.sourceIp ?? 'unknown'} is not in ${policy.when.sourceNetworks.join(', ')}`);
    }
  }
  return reasons;
}

/**
 * Chooses, for every requested entitlement, the first candidate policy whose terms the request
 * meets. The request is granted whole or not at all, so one entitlement without a policy
 * refuses the request, with each candidate's reasons.
 */
export function evaluateRequest(policies: readonly Policy[], ask: RequestAsk): Evaluation {
  const candidates: Record<string, CandidateVerdict[]> = {};
  const chosen: Record<string, Policy> = {};
  const missing: string[] = [];
  let unmet = false;

  for (const entitlement of ask.entitlements) {
    const list = candidatesFor(policies, ask, entitlement);
    candidates[entitlement] = [];
    if (list.length === 0) {
      missing.push(entitlement);
      continue;
    }
    for (const policy of list) {
      const reasons = termViolations(policy, ask, ask.durationMs ?? policy.defaultDuration);
      candidates[entitlement].push({ policy: policy.name, reasons });
      if (reasons.length === 0 && !chosen[entitlement]) chosen[entitlement] = policy;
    }
    if (!chosen[entitlement]) unmet = true;
  }

  if (missing.length > 0) {
    const how = ask.policyName ? ` under policy ${ask.policyName}` : ask.breakGlass ? ' as break-glass' : '';
    return {
      ok: false,
      code: 'HG_NOT_ELIGIBLE',
      message: `${ask.requester.id} is not eligible for ${missing.join(', ')}${how}`,
      candidates,
    };
  }
  if (unmet) return { ok: false, code: 'HG_TERMS_NOT_MET', message: summarise(candidates, chosen), candidates };

  // Without an explicit duration the shortest default of the chosen policies applies, and every
  // chosen policy must still accept it.
  const durationMs = ask.durationMs ?? Math.min(...Object.values(chosen).map((p) => p.defaultDuration));
  if (ask.durationMs === undefined) {
    for (const [entitlement, policy] of Object.entries(chosen)) {
      const reasons = termViolations(policy, ask, durationMs);
      if (reasons.length > 0) {
        candidates[entitlement] = [{ policy: policy.name, reasons }];
        return { ok: false, code: 'HG_TERMS_NOT_MET', message: summarise(candidates, {}), candidates };
      }
    }
  }
  return { ok: true, durationMs, chosen, candidates };
}

function summarise(candidates: Record<string, CandidateVerdict[]>, chosen: Record<string, Policy>): string {
  const parts = Object.entries(candidates)
    .filter(([e]) => !chosen[e])
    .map(([e, verdicts]) => `${e}: ${verdicts.map((v) => `${v.policy}: ${v.reasons.join('; ')}`).join(' | ')}`);
  return `request is outside policy terms (${parts.join('; ')})`;
}

/** How far in the past a requested start may lie (clock skew between client and server). */
const START_AT_SLACK_MS = 60_000;
/** How far ahead a start may be asked for. */
const MAX_START_AHEAD_MS = 366 * 86_400_000;

/** Why a requested start time is refused at `now` (submission and explain share it); undefined when it is fine. */
export function startAtProblem(startAt: number, now: number): string | undefined {
  return startAt < now - START_AT_SLACK_MS || startAt > now + MAX_START_AHEAD_MS ? 'startAt must be now or in the future (at most a year ahead)' : undefined;
}

/** Approvers as a request keeps them: the policy's `manager: true` becomes the manager's id (or nobody). */
function frozenApprovers(set: ApproverSet, manager: string | undefined): RequestApprovers {
  return { groups: set.groups, users: set.users, ...(set.manager === true && manager !== undefined ? { manager } : {}) };
}

/**
 * The terms frozen into a request so that later policy edits apply to new decisions only, and
 * a later change of the requester's manager never changes who may approve an open request.
 * `manager`: the requester's manager as `RequestAsk.manager` had it.
 */
export function termsOf(policy: Policy, manager?: string): PolicyTerms {
  const terms: PolicyTerms = {
    name: policy.name,
    approval: {
      required: policy.approval.required,
      approvers: frozenApprovers(policy.approval.approvers, manager),
      ...(policy.approval.fromChat ? { fromChat: true as const } : {}),
      ...(policy.approval.escalation?.length
        ? {
            escalation: policy.approval.escalation.map((t) =>
              t.onCall ? { afterMs: t.afterMs, onCall: t.onCall } : { afterMs: t.afterMs, approvers: frozenApprovers(t.approvers!, manager) },
            ),
          }
        : {}),
      ...(policy.approval.onCall ? { onCall: policy.approval.onCall } : {}),
    },
    extension: policy.extension,
    breakGlass: policy.breakGlass,
  };
  if (policy.ticket.system) {
    const { required: _r, pattern: _p, ...checks } = policy.ticket;
    terms.ticket = { ...checks, system: policy.ticket.system };
  }
  if (policy.review) terms.review = { approvers: frozenApprovers(policy.review.approvers, manager), within: policy.review.within };
  if (policy.when) terms.when = policy.when;
  if (policy.mfa) terms.mfa = policy.mfa;
  return terms;
}

// ---- time windows ------------------------------------------------------------------------------

const WEEKDAYS: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local date (`YYYY-MM-DD`), weekday and minutes after local midnight of `at` in `timezone`. */
export function localClock(at: number, timezone: string): { date: string; day: Weekday; minutes: number } {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timezone, fmt);
  }
  const parts = Object.fromEntries(fmt.formatToParts(at).map((p) => [p.type, p.value]));
  const day = WEEKDAYS.find((d) => d === String(parts.weekday).slice(0, 3).toLowerCase()) ?? 'sun';
  return { date: `${parts.year}-${parts.month}-${parts.day}`, day, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** Day and hour rules of a window at one instant (source networks are checked separately). */
export function windowViolations(window: TimeWindow, at: number): string[] {
  const { day, minutes } = localClock(at, window.timezone);
  const reasons: string[] = [];
  if (window.days && !window.days.includes(day)) {
    reasons.push(`${day} is not an allowed day (${window.days.join(', ')}, ${window.timezone})`);
  }
  if (window.hours) {
    const { from, to } = window.hours;
    const inside = from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
    if (!inside) {
      reasons.push(`${hhmm(minutes)} is outside the allowed hours ${hhmm(from)}-${hhmm(to)} (${window.timezone})`);
    }
  }
  return reasons;
}

export function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

export function inNetworks(ip: string | undefined, cidrs: readonly string[]): boolean {
  if (!ip || !ipaddr.isValid(ip)) return false;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  return cidrs.some((cidr) => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return range.kind() === addr.kind() && addr.match([range, bits] as [typeof addr, number]);
  });
}

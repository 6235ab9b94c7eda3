/**
 * The Request access page's pure logic (unit-tested): grouping and searching what may be
 * requested, each policy's terms in words, and the explain query and the submission built from
 * the form. Whether a request is allowed is never decided here: the server's explain API does
 * that; the only checks of the UI's own are for obviously empty inputs.
 */
import type { EntitlementJson, PolicyTermsJson } from '../api/types.js';
import { formatDuration } from './time.js';

export interface TargetGroup {
  target: string;
  entitlements: EntitlementJson[];
}

/** Entitlements by target, targets and entitlements in alphabetical order. */
export function groupByTarget(list: readonly EntitlementJson[]): TargetGroup[] {
  const byTarget = new Map<string, EntitlementJson[]>();
  for (const e of list) byTarget.set(e.target, [...(byTarget.get(e.target) ?? []), e]);
  return [...byTarget.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([target, entitlements]) => ({ target, entitlements: [...entitlements].sort((a, b) => a.entitlement.localeCompare(b.entitlement)) }));
}

/** Every word of the query appears in the entitlement's name, target or description (any case). */
export function matchesSearch(e: EntitlementJson, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const haystack = `${e.entitlement} ${e.target} ${e.description ?? ''}`.toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export function searchCount(shown: number, total: number, query: string): string {
  if (!query.trim()) return `${total} ${total === 1 ? 'entitlement' : 'entitlements'}`;
  if (shown === 0) return `No entitlement matches “${query.trim()}”`;
  return `${shown} of ${total} ${total === 1 ? 'entitlement matches' : 'entitlements match'}`;
}

/** The policies a submission would consider: break-glass ones only when break-glass is asked for (as the server does). */
export function offeredPolicies(e: EntitlementJson, breakGlass: boolean): PolicyTermsJson[] {
  return e.policies.filter((p) => p.breakGlass === breakGlass);
}

/** Whether some policy lets the caller ask for this entitlement as break-glass. */
export const hasBreakGlass = (e: EntitlementJson): boolean => e.policies.some((p) => p.breakGlass);

/**
 * The duration the form starts with: the shortest default of the chosen entitlements' first
 * offered policies (the server's default when several are asked together); undefined when none
 * is chosen or none is offered.
 */
export function defaultDurationMs(chosen: readonly EntitlementJson[], breakGlass: boolean): number | undefined {
  const defaults = chosen.flatMap((e) => {
    const first = offeredPolicies(e, breakGlass)[0];
    return first ? [first.defaultDuration] : [];
  });
  return defaults.length ? Math.min(...defaults) : undefined;
}

/** `group sre-leads, carol, your manager`; `nobody` for an empty set. */
export function subjectsText(s: { groups: readonly string[]; users: readonly string[]; manager?: boolean | string }): string {
  const parts = [...s.groups.map((g) => `group ${g}`), ...s.users, ...(s.manager ? ['your manager'] : [])];
  return parts.length ? parts.join(', ') : 'nobody';
}

const DAY_NAMES: Record<string, string> = { sun: 'Sun', mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat' };
const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** `Mon, Tue, Wed 09:00-17:00 (Europe/Berlin)`; hours across midnight read as they are written. */
export function windowText(when: NonNullable<PolicyTermsJson['when']>): string | undefined {
  const parts: string[] = [];
  if (when.days?.length) parts.push(when.days.map((d) => DAY_NAMES[d] ?? d).join(', '));
  if (when.hours) parts.push(`${hhmm(when.hours.from)}-${hhmm(when.hours.to)}`);
  return parts.length ? `${parts.join(' ')} (${when.timezone})` : undefined;
}

export interface Term {
  label: string;
  text: string;
}

const ACTION_WORDS: Record<string, string> = { request: 'to request', approve: 'to approve', credentials: 'to fetch credentials' };

/** One policy's terms in words, in the order people ask about them. */
export function termsOf(p: PolicyTermsJson): Term[] {
  const terms: Term[] = [];
  const min = p.minDuration !== undefined && p.minDuration > 0 && p.minDuration < p.maxDuration ? `, at least ${formatDuration(p.minDuration)}` : '';
  terms.push({ label: 'Duration', text: `up to ${formatDuration(p.maxDuration)} (default ${formatDuration(p.defaultDuration)}${min})` });
  if (p.breakGlass) {
    const review = p.review ? `; reviewed within ${formatDuration(p.review.within)} by ${subjectsText(p.review.approvers)}` : '';
    terms.push({ label: 'Approval', text: `none: break-glass access begins at once${review}` });
  } else if (p.approvalsRequired > 0) {
    terms.push({ label: 'Approval', text: `${p.approvalsRequired} from ${subjectsText(p.approvers)}` });
  } else {
    terms.push({ label: 'Approval', text: 'none: active at once' });
  }
  if (p.mfa && p.mfa.for.length) {
    const what = p.mfa.for.map((a) => ACTION_WORDS[a] ?? a).join(', ');
    terms.push({ label: 'Step-up MFA', text: `${what} (or an MFA sign-in within the last ${formatDuration(p.mfa.maxAge)})` });
  }
  if (p.ticket.required || p.ticket.pattern) {
    const format = p.ticket.pattern ? `matching ${p.ticket.pattern}` : '';
    terms.push({ label: 'Ticket', text: p.ticket.required ? `required${format ? `, ${format}` : ''}` : `optional; if given, ${format}` });
  }
  terms.push({ label: 'Reason', text: p.reason === 'required' ? 'required' : 'optional' });
  const window = p.when ? windowText(p.when) : undefined;
  if (window) terms.push({ label: 'When', text: `only ${window}` });
  if (p.when?.sourceNetworks?.length) terms.push({ label: 'From', text: `networks ${p.when.sourceNetworks.join(', ')}` });
  return terms;
}

export interface RequestForm {
  entitlements: string[];
  duration: string;
  /** The datetime-local input's value (the viewer's zone); empty: at once. */
  startAt: string;
  reason: string;
  ticket: string;
  breakGlass: boolean;
}

/** A datetime-local value (`2026-01-05T10:00`, the viewer's zone) as an ISO instant; undefined when empty or not a time. */
export function localInputToIso(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return undefined;
  const t = new Date(value).getTime(); // a date-time without a zone is local time
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** An instant as a datetime-local value in the viewer's zone (for the input's `min`). */
export function isoToLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * The query of GET /v1/policies/explain for the form. An empty reason or ticket is left out,
 * so explain assumes it will be given and `requires` tells whether it must be: the page asks for
 * it instead of showing a refusal before the person has typed anything.
 */
export function explainQuery(f: RequestForm): string | undefined {
  if (f.entitlements.length === 0) return undefined;
  const q = new URLSearchParams();
  q.set('entitlement', [...f.entitlements].sort().join(','));
  if (f.duration.trim()) q.set('duration', f.duration.trim());
  if (f.reason.trim()) q.set('reason', f.reason.trim());
  if (f.ticket.trim()) q.set('ticket', f.ticket.trim());
  const startAt = localInputToIso(f.startAt);
  if (startAt) q.set('startAt', startAt);
  if (f.breakGlass) q.set('breakGlass', 'true');
  return q.toString();
}

export interface SubmitJson {
  entitlements: string[];
  duration?: string;
  reason?: string;
  ticket?: string;
  startAt?: string;
  breakGlass?: boolean;
}

/** The body of POST /v1/requests for the form (the same values explain was asked about). */
export function submitBody(f: RequestForm): SubmitJson {
  const startAt = localInputToIso(f.startAt);
  return {
    entitlements: [...f.entitlements],
    ...(f.duration.trim() ? { duration: f.duration.trim() } : {}),
    ...(f.reason.trim() ? { reason: f.reason.trim() } : {}),
    ...(f.ticket.trim() ? { ticket: f.ticket.trim() } : {}),
    ...(startAt ? { startAt } : {}),
    ...(f.breakGlass ? { breakGlass: true } : {}),
  };
}

/** What the person must still fill in before asking at all (obviously empty inputs), given what explain says is required. */
export function missingInputs(f: RequestForm, requires: { reason: boolean; ticket: { required: boolean } } | undefined): string[] {
  const missing: string[] = [];
  if (f.entitlements.length === 0) missing.push('choose at least one entitlement');
  if (f.startAt && !localInputToIso(f.startAt)) missing.push('complete the start time or clear it');
  if (requires?.reason && !f.reason.trim()) missing.push('give a reason');
  if (requires?.ticket.required && !f.ticket.trim()) missing.push('give a ticket');
  return missing;
}

/** `1 approval` / `2 approvals`. */
export const approvalsText = (n: number): string => `${n} ${n === 1 ? 'approval' : 'approvals'}`;

/** Seconds from the explain API as a policy duration (`1h30m`). */
export const secondsText = (s: number): string => formatDuration(s * 1000);

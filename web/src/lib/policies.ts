/**
 * The Policies page's pure logic (unit-tested): each policy of GET /v1/policies in words, the
 * search over them, and the "what would happen if" form as a GET /v1/policies/explain query.
 * Whether a request would be allowed is never decided here: the explain API does that.
 */
import type { ExplainJson } from '../api/request.js';
import type { PolicyJson } from '../api/policies.js';
import { localInputToIso, windowText, type Term } from './request.js';
import { formatDuration } from './time.js';

/** `group sre-leads, carol, the requester's manager`; `nobody` for an empty set. */
export function whoText(s: { groups: readonly string[]; users: readonly string[]; manager?: boolean }): string {
  const parts = [...s.groups.map((g) => `group ${g}`), ...s.users, ...(s.manager ? ["the requester's manager"] : [])];
  return parts.length ? parts.join(', ') : 'nobody';
}

const ACTIONS: Record<string, string> = { request: 'requesting', approve: 'approving', credentials: 'fetching credentials' };

/** One policy's terms in words: who may ask, for what, how long, approved by whom, and the conditions. */
export function policyFacts(p: PolicyJson): Term[] {
  const facts: Term[] = [
    { label: 'Who may ask', text: whoText(p.subjects) },
    { label: 'For', text: p.entitlements.join(', ') },
  ];
  const min = p.minDuration < p.maxDuration ? `, at least ${formatDuration(p.minDuration)}` : '';
  facts.push({ label: 'How long', text: `up to ${formatDuration(p.maxDuration)} (default ${formatDuration(p.defaultDuration)}${min})` });
  if (p.breakGlass) {
    facts.push({ label: 'Approval', text: 'none: break-glass, access begins at once when asked for as break-glass' });
  } else if (p.approval.required > 0) {
    const n = p.approval.required;
    facts.push({
      label: 'Approval',
      text: `${n} ${n === 1 ? 'approval' : 'approvals'} from ${whoText(p.approval.approvers)}; waits at most ${formatDuration(p.pendingTimeout)}`,
    });
  } else {
    facts.push({ label: 'Approval', text: 'none: self-service, active at once' });
  }
  if (p.approval.onCall) facts.push({ label: 'On call', text: `none needed for whoever is on call on ${p.approval.onCall}; reviewed afterwards` });
  for (const tier of p.approval.escalation ?? []) {
    const who = tier.onCall ? `whoever is on call on ${tier.onCall}` : whoText(tier.approvers ?? { groups: [], users: [] });
    facts.push({ label: 'Escalation', text: `after ${formatDuration(tier.after)} without a decision, ${who} may approve too` });
  }
  if (p.approval.fromChat) facts.push({ label: 'From chat', text: 'approvers may decide with the buttons of Slack messages' });
  if (p.review) facts.push({ label: 'Review', text: `within ${formatDuration(p.review.within)} by ${whoText(p.review.approvers)}` });
  if (p.mfa?.for.length) {
    facts.push({
      label: 'Step-up MFA',
      text: `for ${p.mfa.for.map((a) => ACTIONS[a] ?? a).join(', ')} (or an MFA sign-in within the last ${formatDuration(p.mfa.maxAge)})`,
    });
  }
  facts.push({ label: 'Reason', text: p.reason });
  if (p.ticket.required || p.ticket.pattern) {
    const format = p.ticket.pattern ? `matching ${p.ticket.pattern}` : '';
    facts.push({ label: 'Ticket', text: p.ticket.required ? `required${format ? `, ${format}` : ''}` : `optional; if given, ${format}` });
  }
  if (p.ticket.system) {
    const states = p.ticket.states ? `, in ${p.ticket.states.join(' or ')}` : '';
    const ends = p.ticket.endsWithTicket ? '; the access ends when it leaves that state' : '';
    const comment = p.ticket.comment ? '; commented on when access starts and ends' : '';
    facts.push({ label: 'Ticket check', text: `in ${p.ticket.system}${states}, at the request and each approval${ends}${comment}` });
  }
  const window = p.when ? windowText(p.when) : undefined;
  if (window) facts.push({ label: 'When', text: `only ${window}` });
  if (p.when?.sourceNetworks?.length) facts.push({ label: 'From', text: `networks ${p.when.sourceNetworks.join(', ')}` });
  facts.push({
    label: 'Extension',
    text: p.extension.allowed
      ? `allowed, up to ${formatDuration(p.extension.maxTotal)} in all${p.extension.requiresApproval && p.approval.required > 0 ? ', approved again' : ''}`
      : 'not allowed',
  });
  return facts;
}

/** Every word of the query appears in the policy's name, entitlements, subjects or approvers (any case). */
export function matchesPolicy(p: PolicyJson, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const who = (s: { groups: string[]; users: string[] }) => [...s.groups, ...s.users].join(' ');
  const haystack = [
    p.name,
    ...p.entitlements,
    who(p.subjects),
    who(p.approval.approvers),
    p.review ? who(p.review.approvers) : '',
    p.breakGlass ? 'break-glass' : '',
  ]
    .join(' ')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export function policyCount(shown: number, total: number, query: string): string {
  const policies = (n: number) => `${n} ${n === 1 ? 'policy' : 'policies'}`;
  if (!query.trim()) return `${policies(total)}, tried in this order`;
  if (shown === 0) return `No policy matches “${query.trim()}”`;
  return `${shown} of ${policies(total)} ${shown === 1 ? 'matches' : 'match'}`;
}

/** Every entitlement the policies name, sorted: the form's suggestions. */
export const knownEntitlements = (policies: readonly PolicyJson[]): string[] => [...new Set(policies.flatMap((p) => p.entitlements))].sort();

export interface WhatIfForm {
  /** A principal id; empty: the caller. */
  principal: string;
  /** `target/name`, several separated by commas or spaces. */
  entitlements: string;
  duration: string;
  /** datetime-local (the viewer's zone): when the request would be made; empty: now. */
  at: string;
  reason: string;
  ticket: string;
  sourceIp: string;
  breakGlass: boolean;
}

export const EMPTY_WHAT_IF: WhatIfForm = { principal: '', entitlements: '', duration: '', at: '', reason: '', ticket: '', sourceIp: '', breakGlass: false };

export const entitlementsOf = (text: string): string[] => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

/** What is obviously missing or unreadable before the server can be asked. */
export function whatIfProblems(f: WhatIfForm): string[] {
  const problems: string[] = [];
  if (entitlementsOf(f.entitlements).length === 0) problems.push('name at least one entitlement');
  if (f.at && !localInputToIso(f.at)) problems.push('complete the time or clear it');
  return problems;
}

/**
 * The query of GET /v1/policies/explain. A reason, ticket or source address left empty is left
 * out, so the server assumes it is given correctly (its answer's `assumed` says so).
 */
export function whatIfQuery(f: WhatIfForm): string | undefined {
  if (whatIfProblems(f).length) return undefined;
  const q = new URLSearchParams();
  if (f.principal.trim()) q.set('principal', f.principal.trim());
  q.set('entitlement', entitlementsOf(f.entitlements).join(','));
  if (f.duration.trim()) q.set('duration', f.duration.trim());
  const at = localInputToIso(f.at);
  if (at) q.set('at', at);
  if (f.reason.trim()) q.set('reason', f.reason.trim());
  if (f.ticket.trim()) q.set('ticket', f.ticket.trim());
  if (f.sourceIp.trim()) q.set('sourceIp', f.sourceIp.trim());
  if (f.breakGlass) q.set('breakGlass', 'true');
  return q.toString();
}

export interface PolicyVerdict {
  entitlement: string;
  policy: string;
  /** `chosen`: it decides; `refused`: its terms are not met; `met`: met, but not the one chosen; `not a candidate`. */
  verdict: 'chosen' | 'refused' | 'met' | 'not a candidate';
  reasons: string[];
}

/** Per entitlement, each policy that names it, in file order of the candidates, then the others: why each did or did not decide. */
export function policyVerdicts(x: ExplainJson): PolicyVerdict[] {
  const out: PolicyVerdict[] = [];
  for (const e of x.entitlements) {
    for (const c of x.candidates[e] ?? []) {
      out.push({ entitlement: e, policy: c.policy, verdict: c.chosen ? 'chosen' : c.reasons.length ? 'refused' : 'met', reasons: [...c.reasons] });
    }
    for (const n of x.notCandidates[e] ?? []) out.push({ entitlement: e, policy: n.policy, verdict: 'not a candidate', reasons: [n.why] });
  }
  return out;
}

/** What the server assumed instead of checking, in words. */
export function assumedText(x: ExplainJson): string[] {
  return [
    ...(x.assumed.reason ? ['a reason will be given'] : []),
    ...(x.assumed.ticket ? ['a ticket matching the policy will be given'] : []),
    ...(x.assumed.sourceIp ? ["the request comes from inside the policy's networks"] : []),
  ];
}

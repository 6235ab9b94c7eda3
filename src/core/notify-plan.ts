/**
 * Who hears what (pure): an audit event, and the request it is about, become notification intents,
 * each a topic and an audience; routes then say which destinations carry which topics for which
 * policies. The service resolves audiences to people and people to addresses
 * (app/notifications/service.ts). docs/integrations.md lists the topics for operators.
 */
import { localClock } from './policy.js';
import type { AccessRequest } from './types.js';

/** What a notification is about; routes select by these (docs/integrations.md, "Topics"). */
export const NOTIFICATION_TOPICS = [
  'approval.requested',
  'approval.escalated',
  'approval.reminder',
  'approval.closed',
  'extension.requested',
  'request.decided',
  'grant.active',
  'grant.expiring',
  'grant.ended',
  'review.requested',
  'alert',
  'digest',
] as const;
export type NotificationTopic = (typeof NOTIFICATION_TOPICS)[number];

/**
 * Who a topic goes to: the requester; whoever may approve now (`tiers`: only the approvers of the
 * tiers just reached, for an escalation; `extension`: the pending extension, which the policies'
 * own approvers decide); the break-glass reviewers; or every admin.
 */
export type Audience =
  { kind: 'requester' } | { kind: 'approvers'; tiers?: Record<string, number>; extension?: true } | { kind: 'reviewers' } | { kind: 'admins' };

export interface Intent {
  topic: NotificationTopic;
  audience: Audience;
}

/** The part of an audit event the plan reads. */
export interface PlannedEvent {
  /** Any string: events of types this build does not know plan nothing. */
  type: string;
  requestId?: string | null | undefined;
  details?: unknown;
}

const ENDED: readonly string[] = ['grant.expired', 'grant.revoked', 'grant.released', 'request.failed'];
const ADMIN_ALERTS: readonly string[] = [
  'alert.revocation_overdue',
  'alert.break_glass_used',
  'alert.review_overdue',
  'alert.audit_chain_broken',
  'alert.target_unconfigured',
  'alert.agent_behind',
  'drift.orphan_removed',
  'drift.extra_privileges',
  'drift.access_missing',
];

/**
 * The notifications an event calls for. `req` is the request as it is now (it may have moved on
 * since the event): a request no longer pending needs no approvers asked, so an approval prompt
 * fanned out late is not sent at all.
 */
export function intentsFor(event: PlannedEvent, req: AccessRequest | undefined): Intent[] {
  const out: Intent[] = [];
  const pending = req?.status === 'pending';
  switch (event.type) {
    case 'request.submitted':
      if (pending) out.push({ topic: 'approval.requested', audience: { kind: 'approvers' } });
      break;
    case 'request.escalated': {
      const tiers = ((event.details as { tiers?: unknown } | null | undefined)?.tiers ?? {}) as Record<string, number>;
      if (pending) out.push({ topic: 'approval.escalated', audience: { kind: 'approvers', tiers } });
      break;
    }
    case 'grant.extension_requested':
      if (req?.pendingExtension) out.push({ topic: 'extension.requested', audience: { kind: 'approvers', extension: true } });
      break;
    case 'reminder.pending_timeout':
      if (pending) out.push({ topic: 'approval.reminder', audience: { kind: 'approvers' } });
      break;
    case 'request.denied':
    case 'request.expired':
    case 'request.scheduled':
    case 'request.cancelled':
      out.push({ topic: 'approval.closed', audience: { kind: 'approvers' } });
      if (event.type !== 'request.cancelled') out.push({ topic: 'request.decided', audience: { kind: 'requester' } });
      break;
    case 'grant.provisioning':
      out.push({ topic: 'approval.closed', audience: { kind: 'approvers' } });
      break;
    case 'grant.activated':
      if (!req?.breakGlass) out.push({ topic: 'approval.closed', audience: { kind: 'approvers' } });
      out.push({ topic: 'grant.active', audience: { kind: 'requester' } });
      break;
    case 'reminder.grant_expiring':
      out.push({ topic: 'grant.expiring', audience: { kind: 'requester' } });
      break;
    default:
      if (ENDED.includes(event.type)) out.push({ topic: 'grant.ended', audience: { kind: 'requester' } });
  }
  if (event.type === 'alert.break_glass_used' || event.type === 'alert.review_overdue' || event.type === 'request.auto_approved') {
    out.push({ topic: 'review.requested', audience: { kind: 'reviewers' } });
  }
  if (ADMIN_ALERTS.includes(event.type)) out.push({ topic: 'alert', audience: { kind: 'admins' } });
  return out;
}

/** `*`, an exact topic, or a prefix ending in `.*` (`approval.*`). */
export function topicMatches(patterns: readonly string[], topic: string): boolean {
  return patterns.some((p) => p === '*' || p === topic || (p.endsWith('.*') && topic.startsWith(p.slice(0, -1))));
}

/** Glob with `*` only (policy names in routes): `prod-*`, `*`. */
export function nameMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => p === '*' || new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`).test(name));
}

const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** A route as the plan reads it. */
export interface RouteTerms {
  channels: readonly string[];
  topics: readonly string[];
  policies: readonly string[];
}

/**
 * The destinations that carry this topic for a request under these policies (events without a
 * request, such as most alerts, match only routes for every policy `*`), in route order, once each.
 */
export function destinationsFor(routes: readonly RouteTerms[], topic: NotificationTopic, policies: readonly string[]): string[] {
  const out = new Set<string>();
  for (const r of routes) {
    if (!topicMatches(r.topics, topic)) continue;
    const forPolicy = policies.length === 0 ? r.policies.includes('*') : policies.some((p) => nameMatches(r.policies, p));
    if (forPolicy) for (const c of r.channels) out.add(c);
  }
  return [...out];
}

/** The local day whose digest is due at `at` (its time has come), or undefined before the time. */
export function digestDay(at: number, digest: { atMinutes: number; timezone: string }): string | undefined {
  const local = localClock(at, digest.timezone);
  return local.minutes >= digest.atMinutes ? local.date : undefined;
}

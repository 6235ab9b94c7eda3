/**
 * The dashboard's figures (GET /v1/stats, roles admin and auditor): per calendar day of the
 * caller's time zone, activations, requests submitted and denied, and break-glass uses; how long
 * approvals take; the most activated entitlements; the latest break-glass uses with their review;
 * grants ending within the hour; removals that are late. Counting and ranking happen in the store
 * (StatsQueries); only short lists come back whole.
 */
import { HgError } from '../core/errors.js';
import { isTimeZone, lastLocalDays } from '../core/stats.js';
import type { AccessRequest, Principal } from '../core/types.js';
import { DEFAULT_ALERT_AFTER_MS } from './access-work.js';
import { targetOf, type AppDeps } from './context.js';
import { hasRole } from './directory.js';

export const STATS_MAX_DAYS = 366;
/** "Expiring soon": live grants ending within this. */
export const EXPIRING_WITHIN_MS = 3_600_000;
const TOP_ENTITLEMENTS = 10;
const LATEST_BREAK_GLASS = 10;
const EXPIRING_LIST = 50;
/** Removals in progress are few (each one is a target refusing or unreachable); this bounds the read. */
const REMOVING_READ = 500;

const DAILY = { activations: 'grant.activated', submitted: 'request.submitted', denied: 'request.denied', breakGlass: 'alert.break_glass_used' } as const;
type Daily = Record<keyof typeof DAILY, number>;

export interface StatsQuery {
  days: number;
  /** IANA zone whose calendar days the figures are counted in; default UTC. */
  timeZone?: string;
}

export type ReviewState = 'reviewed' | 'pending' | 'overdue' | 'not-required';

export interface StatsJson {
  period: { days: number; timeZone: string; since: string; until: string };
  perDay: ({ date: string; start: string } & Daily)[];
  totals: Daily;
  timeToApprove: { requests: number; medianMs: number | null; p90Ms: number | null };
  topEntitlements: { entitlement: string; activations: number }[];
  breakGlass: {
    count: number;
    latest: {
      requestId: string | null;
      requester: string;
      entitlements: string[];
      reason: string | null;
      at: string;
      review: { state: ReviewState; by: string | null; at: string | null; dueAt: string | null };
    }[];
  };
  expiringSoon: { withinMs: number; count: number; grants: { requestId: string; principal: string; entitlement: string; expiresAt: string }[] };
  revocationsOverdue: {
    count: number;
    requests: {
      requestId: string;
      requester: string;
      entitlements: string[];
      status: string;
      removingSince: string | null;
      attempts: number;
      lastError: string | null;
      alerted: boolean;
    }[];
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : iso(ms));

export async function statsFor(deps: AppDeps, actor: Principal, q: StatsQuery): Promise<StatsJson> {
  if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the admin or auditor role is needed to read the dashboard');
  if (!Number.isInteger(q.days) || q.days < 1 || q.days > STATS_MAX_DAYS) throw new HgError('HG_INVALID_INPUT', `days must be 1 to ${STATS_MAX_DAYS}`);
  const timeZone = q.timeZone ?? 'UTC';
  if (!isTimeZone(timeZone)) throw new HgError('HG_INVALID_INPUT', `unknown time zone "${timeZone}" (an IANA name such as Europe/Berlin)`);
  const { store, clock } = deps;
  const config = deps.config.current();
  const now = clock.now();
  const days = lastLocalDays(now, q.days, timeZone);
  const since = days[0]!.start;
  const until = days.at(-1)!.end;

  const [counts, top, approvals, breakGlass, expiring, removing] = await Promise.all([
    store.countEventsBetween([...days.map((d) => d.start), until], Object.values(DAILY)),
    store.topActivated(since, until, TOP_ENTITLEMENTS),
    store.approvalTimes(since, until, [0.5, 0.9]),
    store.latestEvents(DAILY.breakGlass, since, until, LATEST_BREAK_GLASS),
    store.grantsEnding(now, now + EXPIRING_WITHIN_MS, EXPIRING_LIST),
    store.removingRequests(REMOVING_READ),
  ]);

  const keyOf = new Map(Object.entries(DAILY).map(([k, type]) => [type as string, k as keyof Daily]));
  const zero = (): Daily => ({ activations: 0, submitted: 0, denied: 0, breakGlass: 0 });
  const perDay = days.map((d) => ({ date: d.date, start: iso(d.start), ...zero() }));
  const totals = zero();
  for (const c of counts) {
    const key = keyOf.get(c.type);
    const day = perDay[c.interval];
    if (!key || !day) continue;
    day[key] += c.count;
    totals[key] += c.count;
  }

  // The review of each break-glass use, from its request (a handful of reads by id).
  const reviewed = await Promise.all(breakGlass.events.map((e) => (e.requestId ? store.getRequest(e.requestId) : undefined)));
  const latest = breakGlass.events.map((e, i) => {
    const req = reviewed[i];
    const d = (e.details ?? {}) as { entitlements?: unknown; reason?: unknown };
    return {
      requestId: e.requestId ?? null,
      requester: req?.requester ?? e.actor,
      entitlements: req?.entitlements ?? (Array.isArray(d.entitlements) ? d.entitlements.map(String) : []),
      reason: req?.reason ?? (typeof d.reason === 'string' ? d.reason : null),
      at: iso(e.at),
      review: reviewOf(req, now),
    };
  });

  const alertAfter = (req: AccessRequest) =>
    Math.max(...[...new Set(req.entitlements.map(targetOf))].map((t) => config.targets[t]?.revocationAlertAfter ?? DEFAULT_ALERT_AFTER_MS));
  const overdue = removing.filter((r) => r.removalAlerted === true || now - (r.removingSince ?? now) >= alertAfter(r));
  overdue.sort((a, b) => (a.removingSince ?? 0) - (b.removingSince ?? 0) || a.id.localeCompare(b.id));

  return {
    period: { days: q.days, timeZone, since: iso(since), until: iso(until) },
    perDay,
    totals,
    timeToApprove: { requests: approvals.count, medianMs: approvals.quantiles[0] ?? null, p90Ms: approvals.quantiles[1] ?? null },
    topEntitlements: top.map((t) => ({ entitlement: t.entitlement, activations: t.count })),
    breakGlass: { count: breakGlass.count, latest },
    expiringSoon: {
      withinMs: EXPIRING_WITHIN_MS,
      count: expiring.count,
      grants: expiring.grants.map((g) => ({ requestId: g.requestId, principal: g.principal, entitlement: g.entitlement, expiresAt: iso(g.expiresAt) })),
    },
    revocationsOverdue: {
      count: overdue.length,
      requests: overdue.map((r) => ({
        requestId: r.id,
        requester: r.requester,
        entitlements: r.entitlements,
        status: r.status,
        removingSince: isoOrNull(r.removingSince),
        attempts: r.accessAttempts ?? 0,
        lastError: r.accessError ?? null,
        alerted: r.removalAlerted === true,
      })),
    },
  };
}

/** Reviewed; awaiting review until its deadline, overdue after it; or no review asked for by its policies. */
function reviewOf(req: AccessRequest | undefined, now: number): StatsJson['breakGlass']['latest'][number]['review'] {
  if (req?.review) return { state: 'reviewed', by: req.review.by, at: iso(req.review.at), dueAt: isoOrNull(req.reviewDueAt) };
  if (req?.reviewDueAt === undefined) return { state: 'not-required', by: null, at: null, dueAt: null };
  return { state: req.reviewDueAt <= now ? 'overdue' : 'pending', by: null, at: null, dueAt: iso(req.reviewDueAt) };
}

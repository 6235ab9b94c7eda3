/** What the UI says about a request, from its JSON alone (pure: unit-tested). */
import type { RequestJson, RequestStatus } from '../api/types.js';

export const STATUS_LABEL: Record<RequestStatus, string> = {
  pending: 'Waiting for approval',
  scheduled: 'Scheduled',
  active: 'Active',
  denied: 'Denied',
  cancelled: 'Cancelled',
  expired: 'Ended: time ran out',
  revoked: 'Ended early',
  failed: 'Failed',
};

export type Bucket = 'waiting' | 'live' | 'ended';

export function bucketOf(r: RequestJson): Bucket {
  if (r.status === 'pending') return 'waiting';
  if (r.status === 'scheduled' || r.status === 'active') return 'live';
  return 'ended';
}

/** Who still has to approve, in words: `1 more from group sre-leads (policy developers-admin)`. */
export function awaitingText(r: RequestJson): string[] {
  return r.awaiting.map((a) => {
    const who = [...a.approvers.groups.map((g) => `group ${g}`), ...a.approvers.users, ...(a.approvers.manager ? [`${a.approvers.manager} (manager)`] : [])];
    return `${a.remaining} more from ${who.join(', ') || 'nobody'} (policy ${a.policy})`;
  });
}

/** The next instant at which one of these requests changes by itself (a start or an end), if any. */
export function nextChangeAt(requests: readonly RequestJson[], now: number): number | undefined {
  const times = requests
    .flatMap((r) => [r.status === 'scheduled' ? r.startAt : null, r.status === 'active' ? r.expiresAt : null, r.status === 'pending' ? r.pendingUntil : null])
    .filter((t): t is string => t !== null)
    .map((t) => Date.parse(t))
    .filter((t) => t > now);
  return times.length ? Math.min(...times) : undefined;
}
